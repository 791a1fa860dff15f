"""Writing files atomically: into a temporary file beside the target, renamed into
place only when complete, so an interrupted or failed write (Ctrl-C, kill -9, a
full disk) never leaves a truncated file where the previous one was."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces ``path`` (with its data
    flushed to disk first).  Temporary files left by writes that were killed are removed;
    a failed write raises an OSError that names ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist.")
    for stale in folder.glob(f".{path.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
        os.close(handle)
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}") from None
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}; the previous file there is unchanged") from None
    finally:
        temporary.unlink(missing_ok=True)
