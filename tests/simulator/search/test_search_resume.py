"""Resume: a larger budget runs only the rest; a trial left RUNNING by a killed driver is
failed and not counted; a real SIGKILL loses no finished trial; nothing runs twice."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from search_helpers import REPO, trial_table, write_spec

from simulator.search.run import run_search
from simulator.search.spec import load_search
from simulator.search.study import open_study
from simulator.sweep.executors import LocalExecutor
from workloads.errors import InputError


def _run(search, db, workers=2):
    ex = LocalExecutor(workers)
    try:
        return run_search(search, db, ex, progress=False)
    finally:
        ex.close()


def _counted(rows):
    return [r for r in rows if r[1] in ("COMPLETE", "PRUNED")]


def test_larger_budget_runs_only_the_rest(tmp_path):
    search = load_search(write_spec(tmp_path / "s.yaml"))
    db = tmp_path / "s.db"
    first = _run(search, db)
    assert (first.before, first.ran) == (0, 8)
    rows8 = trial_table(db)
    again = _run(search, db)  # same budget: nothing to do
    assert again.ran == 0 and trial_table(db) == rows8
    more = _run(dataclasses.replace(search, trials=14), db)
    assert (more.before, more.ran, more.interrupted) == (8, 6, 0)
    rows = trial_table(db)
    assert rows[:8] == rows8  # the first trials untouched
    assert [r[0] for r in rows] == list(range(14)) and len(_counted(rows)) == 14
    # the resumed sampler does not draw the first trials again (its seed moves on with the study)
    assert not {r[2] for r in rows[8:]} & {r[2] for r in rows8}


def test_interrupted_trial_is_failed_and_not_counted(tmp_path):
    import optuna

    from simulator.search.study import distributions

    search = load_search(write_spec(tmp_path / "s.yaml", trials=4))
    db = tmp_path / "s.db"
    _run(search, db)
    study, held = open_study(search, db)  # a driver that asks for a trial, then dies before telling it
    study.ask(distributions(search))
    held.close()
    assert trial_table(db)[-1][1] == "RUNNING"
    out = _run(dataclasses.replace(search, trials=6), db)
    assert (out.before, out.interrupted, out.ran) == (4, 1, 2)
    rows = trial_table(db)
    assert [r[1] for r in rows].count("FAIL") == 1 and rows[4][1] == "FAIL"
    assert len(_counted(rows)) == 6 and "RUNNING" not in [r[1] for r in rows]
    assert optuna.__version__  # the study is Optuna's own: its dashboard reads it


def test_one_driver_per_study(tmp_path):
    search = load_search(write_spec(tmp_path / "s.yaml"))
    db = tmp_path / "s.db"
    study, held = open_study(search, db)
    try:
        with pytest.raises(InputError, match="another sslcsim search is running"):
            open_study(search, db)
    finally:
        held.close()


def test_another_space_into_the_same_study_is_refused(tmp_path):
    search = load_search(write_spec(tmp_path / "s.yaml", trials=2))
    db = tmp_path / "s.db"
    _run(search, db)
    other = load_search(write_spec(tmp_path / "o.yaml", axes={"rank": [8, 16]}))
    with pytest.raises(InputError, match="was started with another sweep part, axes or objectives"):
        _run(other, db)


def test_a_sweep_database_is_refused_unchanged(tmp_path):
    db = tmp_path / "sweep.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE points (point_hash TEXT PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    search = load_search(write_spec(tmp_path / "s.yaml"))
    with pytest.raises(InputError, match="not a search study"):
        _run(search, db)
    assert db.read_bytes() == before


def _complete(db) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError:  # not created yet
        return 0


def test_sigkill_then_rerun_loses_and_repeats_nothing(tmp_path):
    spec = write_spec(tmp_path / "s.yaml", trials=40)
    db = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "sslcsim.cli", "search", str(spec), "--out", str(db), "--workers", "2",
           "--no-progress", "--formats", "png"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while _complete(db) < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [r for r in trial_table(db) if r[1] == "COMPLETE"]
    assert 8 <= len(before) < 40
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = trial_table(db)
    assert len(_counted(rows)) == 40 and "RUNNING" not in [r[1] for r in rows]
    assert [r for r in rows if r[0] in {b[0] for b in before}] == before  # every finished trial kept as it was
    assert len(rows) - 40 == [r[1] for r in rows].count("FAIL") <= 2  # only the trials in flight were lost
    assert (tmp_path / "s-pareto" / "pareto.md").is_file()
