from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from gis_app.hazards.ledger_chain import verify
from gis_app.lib.progress import progress_bar


class Command(BaseCommand):
    help = "Checks the hazard history's hash chains and names every entry where a chain breaks (exit 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="list at most this many breaks")

    def handle(self, *args, limit: int, **opts):
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM hazards_hazardevent")
            total = cur.fetchone()[0]
        breaks = []
        with transaction.atomic(), progress_bar(total, "校验隐患处理记录") as bar:
            for found in verify(progress=lambda n: bar.update(n - bar.n)):
                breaks.append(found)
        for b in breaks[:limit]:
            where = f"记录 #{b.event_id}" if b.event_id else "（无记录）"
            self.stdout.write(f"隐患 #{b.hazard_id} {where}：{b.problem}")
        if breaks:
            raise CommandError(f"隐患台账校验未通过：{len(breaks)} 处断链（共 {total} 条记录）")
        self.stdout.write(f"隐患台账校验通过：{total} 条记录，链条完整")
