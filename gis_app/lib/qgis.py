"""Running a PyQGIS script: Debian's QGIS imports only under /usr/bin/python3, so scripts run there, headless, in a
process of their own, and print one JSON line as their answer."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings


class QgisError(RuntimeError):
    pass


def qgis_python() -> str:
    return getattr(settings, "QGIS_PYTHON", "/usr/bin/python3")


def run_script(script: Path, *args: str, timeout: int = 600) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": home,
            "LANG": "C.UTF-8",
        }
        try:
            done = subprocess.run(
                [qgis_python(), str(script), *args], capture_output=True, text=True, timeout=timeout, env=env
            )
        except FileNotFoundError:
            raise QgisError(f"找不到 QGIS 的 Python（{qgis_python()}）：请安装 python3-qgis") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise QgisError("QGIS 处理失败：" + " | ".join(tail))
    return json.loads(done.stdout.strip().splitlines()[-1])
