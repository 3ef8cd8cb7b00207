import os

from django.core.management.base import BaseCommand, CommandError

from gis_app.ops.roles import ensure_runtime_role


class Command(BaseCommand):
    help = (
        "Creates the runtime database role (if missing) and grants it what the platform needs and nothing more: rows, "
        "not tables; history tables append-only. Run as the tables' owner after every migrate (make run does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", default=os.environ.get("APP_DB_ROLE", "gis_web"))
        parser.add_argument("--print", action="store_true", help="only print the GRANT statements for a DBA")

    def handle(self, *args, role: str, print: bool, **opts):
        from django.db import connection

        from gis_app.ops.roles import append_only_tables, grants_sql

        if print:
            with connection.cursor() as cur:
                for sql in grants_sql(role, append_only_tables(cur)):
                    self.stdout.write(sql + ";")
            return
        try:
            statements = ensure_runtime_role(role, os.environ.get("APP_DB_PASSWORD", ""))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a missing privilege is reported, not a traceback
            raise CommandError(f"无法设置数据库角色 {role}：{exc}") from None
        self.stdout.write(f"数据库角色 {role}：已授予 {len(statements)} 项权限（只读写数据行，历史表只可追加）")
