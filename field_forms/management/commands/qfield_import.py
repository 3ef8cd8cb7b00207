from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from field_forms.importer import ImportRefused, import_folder
from gis_app.lib.progress import progress_bar


class Command(BaseCommand):
    help = "Imports a project folder returned from the field (cable transfer): the same import as a QFieldCloud pull."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--user", required=True, help="the platform user the field work is recorded as")

    def handle(self, *args, folder: Path, user: str, **opts):
        if not folder.is_dir():
            raise CommandError(f"no such folder: {folder}")
        by = get_user_model().objects.filter(username=user).first()
        if by is None:
            raise CommandError(f"no such user: {user}")
        bar = progress_bar(4, "导入外业数据")
        bar.unit = "步"

        def progress(done, total=None, message=None, force=False):
            bar.update(done - bar.n)

        try:
            report = import_folder(folder, by=by, progress=progress)
        except ImportRefused as exc:
            bar.close()
            raise CommandError("未导入任何数据：\n" + "\n".join(exc.report.errors)) from None
        bar.close()
        self.stdout.write(report.summary())
        for note in report.notes:
            self.stdout.write(note)
