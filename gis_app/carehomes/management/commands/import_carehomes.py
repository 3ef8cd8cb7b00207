from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.carehomes.importers.carehomes import ImportFileError, import_carehomes, write_template
from gis_app.lib.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Imports care homes from .xlsx or .csv (Chinese headers, see --template). Nothing is imported unless every "
        "row passes (or --skip-bad); re-importing the same file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="?")
        parser.add_argument(
            "--crs", default="wgs84", help="coordinate system of the file: wgs84 (default), cgcs2000, gcj02, bd09"
        )
        parser.add_argument("--sheet", help="the sheet to import (.xlsx with several lists)")
        parser.add_argument("--encoding", help="the CSV's encoding (utf-8, gbk, gb18030, big5); default: recognised")
        parser.add_argument("--skip-bad", action="store_true", help="import the good rows, skip the bad ones")
        parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        parser.add_argument("--demo", action="store_true", help="mark the imported homes as demo data")
        parser.add_argument("--template", type=Path, metavar="OUT.xlsx", help="write the import template and exit")

    def handle(self, *args, file: Path | None, **opts):
        if opts["template"]:
            write_template(opts["template"])
            self.stdout.write(f"模板已写入 {opts['template']}")
            return
        if file is None:
            raise CommandError("请指定要导入的文件，或用 --template 生成模板")
        if not file.exists():
            raise CommandError(f"文件不存在：{file}")
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = progress_bar(total, f"导入 {file.name}")
            bar.n = done
            bar.refresh()

        try:
            report = import_carehomes(
                file.read_bytes(),
                file.name,
                crs=opts["crs"],
                commit=not opts["dry_run"],
                skip_bad=opts["skip_bad"],
                demo=opts["demo"],
                sheet=opts["sheet"],
                encoding=opts["encoding"],
                progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(report.as_text())
        if report.errors and not opts["skip_bad"]:
            raise CommandError(f"{len(report.bad_rows)} 行有问题，未导入任何数据")
