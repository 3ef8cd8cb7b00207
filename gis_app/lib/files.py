"""Uploaded evidence is allowlisted by what the file is, not by its name: an `.html` renamed `.pdf` is refused."""

import zipfile

from django.core.exceptions import ValidationError

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
LABELS = {
    "pdf": "PDF",
    "jpeg": "JPEG 图片",
    "png": "PNG 图片",
    "docx": "Word 文档（.docx）",
    "xlsx": "Excel 表格（.xlsx）",
}


def sniff(upload) -> str | None:
    """The file's kind from its first bytes (and, for Office files, the zip's parts); None when not allowlisted."""
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        finally:
            upload.seek(0)
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
    return None


def validate_evidence(upload) -> None:
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(f"附件不能超过 {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB")
    if sniff(upload) is None:
        raise ValidationError(f"附件类型不支持：只接受 {'、'.join(LABELS.values())}（按文件内容识别，不看扩展名）")
