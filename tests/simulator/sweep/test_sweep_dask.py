"""The Dask executor stores exactly what the local process pool stores, both through an
in-process LocalCluster and through the CLI connected to a running scheduler's address."""

from __future__ import annotations

import pytest
from sweep_helpers import db_rows

from simulator.sweep.executors import DaskExecutor
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_spec
from sslcsim.cli import main

distributed = pytest.importorskip("distributed")


def test_dask_matches_local(small_spec, reference_db, tmp_path):
    db = tmp_path / "dask.db"
    ex = DaskExecutor(workers=2, processes=False)
    try:
        out = run_sweep(load_spec(small_spec), db, ex, progress=False)
    finally:
        ex.close()
    assert (out.ran, out.errors) == (48, 0)
    assert db_rows(db) == db_rows(reference_db)


def test_cli_with_scheduler_address(small_spec, reference_db, tmp_path):
    db = tmp_path / "cli.db"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        rc = main(["sweep", str(small_spec), "--out", str(db), "--executor", "dask",
                   "--scheduler", cluster.scheduler_address, "--no-progress"])
    assert rc == 0
    assert db_rows(db) == db_rows(reference_db)
