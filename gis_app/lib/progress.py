"""A progress bar for management commands (stderr, so stdout stays parseable)."""

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str):
    return tqdm(total=total, desc=description, unit="行", file=sys.stderr, leave=True, dynamic_ncols=True)
