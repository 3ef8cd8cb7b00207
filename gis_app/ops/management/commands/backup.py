from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gis_app.ops.backup import BackupError, backup


class Command(BaseCommand):
    help = "Writes one backup file: the database (pg_dump custom format), the uploaded files and a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=Path(settings.BASE_DIR) / ".data" / "backups")

    def handle(self, *args, out: Path, **opts):
        try:
            path = backup(out, say=lambda m: self.stderr.write(m))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(path))
