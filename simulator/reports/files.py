"""Writes that matter are atomic: to a temporary file beside the target, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from workloads.errors import InputError


def _nearest_existing(p: Path) -> Path:
    """`p`'s nearest ancestor that exists (the directory a write would start creating from)."""
    q = p.parent
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_path(path: str | Path) -> None:
    """InputError (one line, naming `path` as the user gave it) unless `path` can be written:
    a new path or an existing regular file that is not a symbolic link (a report never
    replaces a directory, a device, a FIFO or a link), under a directory this process can
    create a file in. Checked with a probe file (created and removed at once) because
    permission bits say nothing to root and nothing about read-only or pseudo file systems
    such as /proc. Nothing is left behind, and no missing directory is created here."""
    p = Path(path)
    if p.is_symlink():
        raise InputError(f"{p}: is a symbolic link; refusing to write an output there")
    if p.exists() and not p.is_file():
        raise InputError(f"{p}: exists and is not a regular file; refusing to write an output there")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise InputError(f"{p}: cannot write an output there ({base} is not a directory)")
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=f".{p.name}.", suffix=".tmp")  # the name atomic_path uses
    except OSError as exc:
        raise InputError(f"{p}: cannot write an output there ({_why(exc)})") from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temporary path beside `path` to write; renamed over `path` when the block succeeds,
    removed whatever happens. Refuses a target that cannot be written (check_output_path);
    a failure of the file system while writing names `path`, never the temporary file."""
    p = Path(path)
    check_output_path(p)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{p}: cannot write an output there ({_why(exc)})") from None
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, p)
    except OSError as exc:
        raise InputError(f"{p}: writing failed ({_why(exc)})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
