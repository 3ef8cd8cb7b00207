"""Stored files (photos, attachments, exports, field packages) through Django's default storage: MEDIA_ROOT, or an
S3-compatible bucket when MEDIA_S3_BUCKET is set. Nothing outside this module and the models' file fields assumes a
directory."""

from collections.abc import Iterator

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage


def save(name: str, content: bytes | File) -> str:
    """Store `content` under `name` (or a free name beside it); returns the name stored."""
    return default_storage.save(name, ContentFile(content) if isinstance(content, bytes) else content)


def exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def open_file(name: str):
    return default_storage.open(name, "rb")


def walk(folder: str = "") -> Iterator[str]:
    """Every stored file's name, folder by folder (sorted), whatever the storage."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from walk(f"{folder}/{sub}" if folder else sub)


def where() -> str:
    """Where files are stored, for messages: the directory or the bucket."""
    from django.conf import settings

    return f"s3://{settings.MEDIA_S3_BUCKET}" if settings.MEDIA_S3_BUCKET else str(settings.MEDIA_ROOT)
