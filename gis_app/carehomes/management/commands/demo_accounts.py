from django.core.management.base import BaseCommand

from gis_app.carehomes.demo import DEMO_PASSWORD, describe_accounts


class Command(BaseCommand):
    help = f"Lists the demo accounts (password {DEMO_PASSWORD})."

    def handle(self, *args, **opts):
        self.stdout.write("\n".join(describe_accounts()))
