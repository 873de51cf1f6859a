"""Session fixtures: the small sweep spec and its reference database from one uninterrupted local run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import SMALL_BODY, write_spec


@pytest.fixture(scope="session")
def small_spec(tmp_path_factory) -> Path:
    return write_spec(tmp_path_factory.mktemp("spec") / "small.yaml", SMALL_BODY, layers=4)


@pytest.fixture(scope="session")
def reference_db(small_spec, tmp_path_factory) -> Path:
    from simulator.sweep.executors import LocalExecutor
    from simulator.sweep.run import run_sweep
    from simulator.sweep.spec import load_spec

    db = tmp_path_factory.mktemp("ref") / "ref.db"
    ex = LocalExecutor(2)
    try:
        out = run_sweep(load_spec(small_spec), db, ex, progress=False)
    finally:
        ex.close()
    assert out.ran == 48 and out.errors == 0
    return db
