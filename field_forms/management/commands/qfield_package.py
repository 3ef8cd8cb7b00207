from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from field_forms.package import generate
from field_forms.spec import ScopeError, resolve_scope
from gis_app.lib.progress import progress_bar
from gis_app.lib.qgis import QgisError


class Command(BaseCommand):
    help = "Generates the QField project (project.qgs + inspection.gpkg + DCIM/) of a scope into a folder."

    def add_arguments(self, parser):
        parser.add_argument("--scope", required=True, help="subdistrict:<code> | carehome:<id> | route:<id>")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--zip", action="store_true", help="also write <out>.zip for cable transfer")

    def handle(self, *args, scope: str, out: Path, zip: bool, **opts):
        bar = progress_bar(3, "生成外业项目")
        bar.unit = "步"
        try:
            resolved = resolve_scope(scope)
            bar.update(1)
            result = generate(resolved, out)
            bar.update(1)
            if zip:
                from field_forms.package import zip_folder

                out.with_suffix(".zip").write_bytes(zip_folder(out))
            bar.update(1)
        except (ScopeError, QgisError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(f"已生成：{result['project']}（{result['homes']} 家机构，{result['layers']} 个图层，"
                          f"{result['features']} 个要素）")  # fmt: skip
