"""Writes that matter are atomic: to a temporary file beside the target, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from workloads.errors import InputError


def check_output_path(path: str | Path) -> None:
    """InputError (one line) unless `path` is a new path or an existing regular file that is
    not a symbolic link: a report never replaces a directory, a device, a FIFO or a link."""
    p = Path(path)
    if p.is_symlink():
        raise InputError(f"{p}: is a symbolic link; refusing to write an output there")
    if p.exists() and not p.is_file():
        raise InputError(f"{p}: exists and is not a regular file; refusing to write an output there")
    if p.parent.exists() and not p.parent.is_dir():
        raise InputError(f"{p.parent}: is not a directory")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temporary path beside `path` to write; renamed over `path` when the block succeeds,
    removed whatever happens. Refuses a target that is not a regular file (check_output_path)."""
    p = Path(path)
    check_output_path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
