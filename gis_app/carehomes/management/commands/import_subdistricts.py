from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.carehomes.importers.subdistricts import ImportFileError, import_subdistricts


class Command(BaseCommand):
    help = (
        "Loads 街镇 boundaries from GeoJSON, Shapefile or GeoPackage (any CRS with an EPSG code; stored as WGS84), "
        "matched by code, then name. Dry run unless --commit."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--commit", action="store_true", help="write to the database (default: report only)")
        parser.add_argument("--srid", type=int, help="EPSG code of the file when it carries none (e.g. 4490)")
        parser.add_argument("--layer", help="layer name in a GeoPackage (default: the first)")
        parser.add_argument(
            "--encoding", help="attribute encoding, e.g. GBK (default: .cpg, DBF header, UTF-8, GB18030)"
        )
        parser.add_argument("--create-missing", action="store_true", help="create 街镇 not yet in the registry")
        parser.add_argument("--approximate", action="store_true", help="mark the boundaries as approximate (demo)")

    def handle(self, *args, file: Path, **opts):
        if not file.exists():
            raise CommandError(f"文件不存在：{file}")
        try:
            report = import_subdistricts(
                file,
                commit=opts["commit"],
                srid=opts["srid"],
                layer=opts["layer"],
                encoding=opts["encoding"],
                create_missing=opts["create_missing"],
                approximate=opts["approximate"],
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.as_text())
        if not report.ok:
            raise CommandError(f"{len(report.unmatched)} 个要素未能匹配，未写入任何数据")
