from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.hazards.exports import Scope, export_ledger
from gis_app.hazards.models import Hazard
from gis_app.lib.progress import progress_bar


class Command(BaseCommand):
    help = "Writes the three lists (三项清单) as one .xlsx, one sheet per list, for the district, a 街镇 or a home."

    def add_arguments(self, parser):
        parser.add_argument("--scope", default="district", help="district | subdistrict:<code> | carehome:<id>")
        parser.add_argument("--out", required=True, type=Path, help="FILE.xlsx")

    def handle(self, *args, scope: str, out: Path, **opts):
        try:
            parsed = Scope.parse(scope)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if out.suffix.lower() != ".xlsx":
            raise CommandError("输出文件应以 .xlsx 结尾")
        total = Hazard.objects.filter(care_home__in=parsed.homes).count() * 3
        with progress_bar(total, f"导出 {parsed.label}") as bar:
            rows = export_ledger(out, parsed, progress=lambda n: bar.update(n - bar.n))
        self.stdout.write(f"已导出 {rows} 行到 {out}")
