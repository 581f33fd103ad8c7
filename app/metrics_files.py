"""The folder where the processes' metrics meet (prometheus-client's multiprocess mode).

Apart from app.metrics, whose import creates the metrics (and so, in multiprocess mode, their
files): emptying the folder must not write to it.
"""

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def reset_multiprocess_dir() -> Path | None:
    """Empty PROMETHEUS_MULTIPROC_DIR (create it when missing), before the workers start:
    files left by an earlier run would be added to this one's counts."""
    path = multiprocess_dir()
    if path is None:
        return None
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return folder
