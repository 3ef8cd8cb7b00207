import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.ops.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restores a backup file into an empty database (DATABASE_URL) and empty file storage (MEDIA_ROOT or the bucket), then checks it."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **opts):
        if not file.is_file():
            raise CommandError(f"找不到备份文件 {file}")
        try:
            manifest = restore(file, say=lambda m: self.stderr.write(m))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"已恢复 {manifest['created_at']} 的备份，核对一致：" + json.dumps(manifest["counts"], ensure_ascii=False)
        )
