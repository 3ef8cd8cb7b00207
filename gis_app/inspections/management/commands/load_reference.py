from django.core.management.base import BaseCommand

from gis_app.inspections.catalogue import DEFAULT, load_catalogue


class Command(BaseCommand):
    help = "Loads (or updates) the checklist catalogue and major-hazard criteria from fixtures/. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEFAULT))

    def handle(self, *args, file: str, **opts):
        changed = load_catalogue(file)
        self.stdout.write(
            f"检查表与判定标准：新增重点部位 {changed['key_places']}，判定条款 {changed['criteria']}，检查项 {changed['items']}"
        )
