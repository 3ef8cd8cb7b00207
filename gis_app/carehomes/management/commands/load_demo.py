from django.core.management.base import BaseCommand

from gis_app.carehomes.demo import load_demo


class Command(BaseCommand):
    help = "Loads the Binhai demo (approximate 街镇 boundaries, demo care homes, one account per role). Idempotent."

    def handle(self, *args, **opts):
        load_demo(stdout=self.stdout)
