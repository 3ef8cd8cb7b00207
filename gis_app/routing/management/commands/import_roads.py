from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.lib.progress import progress_bar
from gis_app.routing.osm import import_network


class Command(BaseCommand):
    help = "Loads the drivable roads of an OpenStreetMap file (.osm.pbf/.osm) for pgRouting, replacing the current network."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **opts):
        if not file.exists():
            raise CommandError(f"no such file: {file}")
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = progress_bar(total, "道路")
                bar.unit = "条"
            bar.update(done - bar.n)

        try:
            result = import_network(str(file), progress)
        except RuntimeError as exc:  # osmium: unreadable file
            raise CommandError(f"cannot read {file.name}: {exc}") from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(f"路网已载入：{result['ways']} 条道路，{result['edges']} 个路段，{result['nodes']} 个节点，"
                          f"{result['km']} 公里")  # fmt: skip
