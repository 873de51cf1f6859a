"""Kill-and-resume: SIGKILL the sweep CLI at seeded random moments, then finish it; the
database must equal an uninterrupted run's, with no duplicates and no partial rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from sweep_helpers import REPO, db_rows


def _cli(spec, db) -> list[str]:
    return [sys.executable, "-m", "sslcsim.cli", "sweep", str(spec), "--out", str(db), "--workers", "2",
            "--no-progress"]


def _count(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:  # waits out a writer's WAL recovery lock
        try:
            return conn.execute("SELECT count(*) FROM points").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # killed before the table was created
                return 0
            raise


def _kill_after(cmd, env, db, target: int, extra_s: float) -> int:
    """Start the sweep, SIGKILL its driver once `target` rows are stored plus `extra_s` seconds."""
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _count(db) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(extra_s)
        proc.send_signal(signal.SIGKILL)  # the driver only: its pool workers must notice and exit
        proc.wait()
    finally:
        time.sleep(0.05)
        try:  # whatever is left of its session (nothing, when the workers exit on their own)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return _count(db)


def test_sigkill_and_resume_equals_uninterrupted(small_spec, reference_db, tmp_path):
    db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = _cli(small_spec, db)
    rng = np.random.default_rng(1234)
    # one kill at a random moment of start-up, then four at random moments mid-run: after a
    # random number of stored points plus a random delay (so a kill may land mid-write)
    counts = [_kill_after(cmd, env, db, 0, rng.uniform(0.0, 0.8))]
    for target in sorted(rng.integers(1, 46, size=4)):
        counts.append(_kill_after(cmd, env, db, int(target), rng.uniform(0.0, 0.05)))
    assert counts == sorted(counts)  # finished points are never lost
    assert sum(0 < c < 48 for c in counts) >= 3, f"kills did not land mid-run: {counts}"
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = conn.execute("SELECT count(*), count(DISTINCT point_hash) FROM points").fetchone()
        assert n == distinct == 48
    assert db_rows(db) == db_rows(reference_db)
    # a further re-run skips everything
    again = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and "48 already done, 0 simulated" in again.stderr
