from django.core.management.base import BaseCommand

from gis_app.risk.scoring import recompute_all


class Command(BaseCommand):
    help = "Recomputes every care home's risk score and the per-街镇 aggregates now."

    def handle(self, *args, **opts):
        counts = recompute_all()
        self.stdout.write(f"已计算 {counts['homes']} 家养老机构的风险分，{counts['subdistricts']} 条街镇汇总")
