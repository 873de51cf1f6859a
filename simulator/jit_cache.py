"""Where numba keeps the compiled kernels: a directory named for the source they come from.

Numba's on-disk cache drops a function's compiled copy when that function's own file
changes, but not when a function it calls in another file does, nor when a module-level
constant it compiled in changes (numba's documentation, "Cache invalidation"). After an
update, a kernel could then run a stale copy of a changed rule and report old numbers without
a word. So the cache lives in `.numba-cache/<digest>` beside the packages, the digest being
a sha256 of every source file of the packages that hold jitted code: any change to any of
them starts a fresh cache (the first run after it compiles again), and the directories of
older sources are removed. A NUMBA_CACHE_DIR the user set is left alone; where the
directory cannot be written (a read-only install), numba's own per-file cache is used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "workloads")  # every package with numba code
CACHE = ".numba-cache"


def source_digest(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> str:
    """sha256 (first 16 hex digits) over the relative path and bytes of every .py file of
    `packages` under `root`, in path order."""
    h = hashlib.sha256()
    for pkg in packages:
        for p in sorted((root / pkg).rglob("*.py")):
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def use_source_keyed_cache(root: Path = ROOT) -> str | None:
    """Points numba's cache at root/.numba-cache/<source digest> (module docstring); returns
    that directory, or None where the user chose one or it cannot be written."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen and Path(chosen).parent != root / CACHE:  # not one of ours (ours pass to worker processes)
        return None
    path = root / CACHE / source_digest(root)
    try:
        fresh = not path.is_dir()
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return None
    if fresh:  # the kernels of older sources can never be used again
        for old in (root / CACHE).iterdir():
            if old != path and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = str(path)  # read when numba is imported, here and in worker processes
    if "numba" in sys.modules:  # imported already: its config was read
        from numba.core import config

        config.CACHE_DIR = str(path)
    return str(path)
