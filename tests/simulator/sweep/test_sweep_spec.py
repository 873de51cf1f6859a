"""Spec validation and expansion: bad specs are rejected before any point runs, one line, exit 2."""

from __future__ import annotations

import csv
import sqlite3

import pytest
from sweep_helpers import write_spec

from simulator.sweep.spec import hardware_key_exists, load_spec
from simulator.sweep.store import Store, export_csv, export_parquet
from sslcsim.cli import main
from workloads.errors import InputError

BAD = {
    "unknown hardware key": ("grid:\n  sparser_engine.linez: [32, 64]\n", "unknown axis key 'sparser_engine.linez'"),
    "section, not a leaf": ("grid:\n  dram: [1]\n", "unknown axis key 'dram'"),
    "empty axis": ("grid:\n  ratio: []\n", "grid.ratio: empty axis"),
    "empty random axis": ("random: {samples: 3, axes: {rank: []}}\n", "random.axes.rank: empty axis"),
    "hardware out of range": ("grid:\n  sparser_engine.lines: [64, 5000]\n",
                              "point 1 (sparser_engine.lines=5000): key 'sparser_engine.lines': must be <= 4096"),
    "bandwidth out of range": ("grid:\n  dram.bandwidth_gbps: [10, -1]\n", "key 'dram.bandwidth_gbps': must be >= 0.001"),
    "ratio out of range": ("fixed: {rank: 16}\ngrid:\n  ratio: [0.5, 1.5]\n", "key 'ratio': must be <= 1.0 (got 1.5)"),
    "rank too large": ("fixed: {}\ngrid:\n  rank: [16, 600]\n", "rank 600 exceeds min(m, n) = 576"),
    "default rank too large": ("fixed: {}\ngrid:\n  ratio: [0.5]\n", "budget cannot be met"),
    "bad phase": ("fixed: {rank: 16}\nlist: [{phase: train}]\n", "key 'phase': must be one of"),
    "two modes": ("grid: {rank: [8]}\nlist: [{rank: 8}]\n", "exactly one of grid, list, random"),
    "zipped arity": ('grid:\n  "rank,ratio": [[8, 0.5], [16]]\n', "zipped axis must be a list of 2 values"),
    "unknown top key": ("grids: {rank: [8]}\n", "key 'grids': unknown key"),
    "unknown fixed key": ("fixed: {rnak: 8}\ngrid: {rank: [8]}\n", "fixed: unknown workload key 'rnak'"),
    "infinite random range": ("random: {samples: 2, axes: {dram.bandwidth_gbps: {low: -1.0e+308, high: 1.0e+308}}}\n",
                              "a finite range"),
    "million-point grid": ("grid:\n  ratio: [" + ", ".join(f"0.{i:03d}" for i in range(100, 200)) + "]\n"
                           "  rank: [" + ", ".join(str(i) for i in range(100)) + "]\n"
                           "  sparser_engine.lines: [" + ", ".join(str(i) for i in range(1, 101)) + "]\n",
                           "1,000,000 points, more than the 100,000"),
    "duplicate key": ("grid: {ratio: [0.5]}\ngrid: {ratio: [0.4]}\n", "duplicate key 'grid'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_spec_rejected_before_any_point(case, tmp_path, capsys):
    body, expected = BAD[case]
    if "fixed:" not in body:
        body = "fixed: {rank: 16}\n" + body  # the default rank 128 exceeds SmolLM2's k_proj budget
    spec = write_spec(tmp_path / "bad.yaml", body)
    db = tmp_path / "out.db"
    assert main(["sweep", str(spec), "--out", str(db), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(spec) in err
    assert err.count("\n") == 1  # one line, no traceback
    assert not db.exists()  # nothing ran, nothing written


def test_base_hardware_is_validated(tmp_path):
    spec = tmp_path / "a.yaml"
    spec.write_text("name: a\nhardware: {}\nmodel: smollm2-135m\ngrid: {rank: [8]}\n")
    with pytest.raises(InputError, match="hardware: key 'name': missing"):
        load_spec(spec)


def test_hardware_key_lookup():
    assert hardware_key_exists("sparser_engine.lines")
    assert hardware_key_exists("dram.bandwidth_gbps")  # inside an Optional section
    assert hardware_key_exists("clock_mhz")
    assert not hardware_key_exists("buffers")  # a section
    assert not hardware_key_exists("clock_mhz.x")
    assert not hardware_key_exists("nope")


def test_grid_zip_list_and_random_expansion(tmp_path):
    grid = load_spec(write_spec(tmp_path / "g.yaml", 'grid:\n  rank: [8, 16]\n  "ratio,sparser_engine.lines": '
                                                     '[[0.4, 32], [0.5, 64], [0.6, 16]]\n'))
    assert len(grid.points) == 6 and grid.axes == ("rank", "ratio", "sparser_engine.lines")
    p = grid.points[5]
    assert p.params == {"rank": 16, "ratio": 0.6, "sparser_engine.lines": 16}
    assert p.hardware["sparser_engine"]["lines"] == 16 and p.workload["ratio"] == 0.6
    assert len({q.key for q in grid.points}) == 6
    # a null section (dram: null in the base) is created by a dotted key
    bw = load_spec(write_spec(tmp_path / "b.yaml", "fixed: {rank: 16}\ngrid:\n  dram.bandwidth_gbps: [25.6]\n"))
    assert bw.points[0].hardware["dram"] == {"bandwidth_gbps": 25.6, "latency_ns": 0.0, "channels": 1,
                                             "interleave_bytes": 256, "ports": None}
    lst = load_spec(write_spec(tmp_path / "l.yaml", "list:\n  - {rank: 8}\n  - {rank: 16, ratio: 0.3}\n"))
    assert [q.workload["ratio"] for q in lst.points] == [0.5, 0.3]
    body = "random:\n  samples: 7\n  seed: 3\n  axes: {ratio: {low: 0.3, high: 0.6}, rank: [8, 16, 32], " \
           "sparser_engine.lines: {low: 8, high: 128, scale: log, integer: true}}\n"
    r1 = load_spec(write_spec(tmp_path / "r1.yaml", body))
    r2 = load_spec(write_spec(tmp_path / "r2.yaml", body))
    assert [q.key for q in r1.points] == [q.key for q in r2.points]  # seeded: reproducible
    assert all(0.3 <= q.workload["ratio"] <= 0.6 and 8 <= q.hardware["sparser_engine"]["lines"] <= 128
               for q in r1.points)


def test_export_csv_and_parquet(reference_db, tmp_path):
    store = Store(reference_db)
    try:
        assert export_csv(store, tmp_path / "r.csv") == 48
        with open(tmp_path / "r.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 48 and "axis:sparser_engine.lines" in rows[0] and "speedup" in rows[0]
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            with pytest.raises(InputError, match="pyarrow"):
                export_parquet(store, tmp_path / "r.parquet")
            pytest.skip("pyarrow not installed: Parquet export not exercised")
        assert export_parquet(store, tmp_path / "r.parquet") == 48
    finally:
        store.close()


def test_not_a_database(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_text("hello, not sqlite " * 100)
    with pytest.raises(InputError, match="not a sweep results database"):
        Store(bad)
    with sqlite3.connect(tmp_path / "empty.db"):
        pass
    Store(tmp_path / "empty.db").close()


def test_layers_true_is_not_one_layer(tmp_path):
    """A YAML boolean where a count belongs is an error, not 1 (issue 12)."""
    spec = write_spec(tmp_path / "s.yaml", "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n", layers="true")
    with pytest.raises(InputError, match="key 'layers': Input should be a valid integer"):
        load_spec(spec)


def test_a_foreign_database_is_refused_and_left_untouched(tmp_path, capsys):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    spec = write_spec(tmp_path / "s.yaml", "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n")
    assert main(["sweep", str(spec), "--out", str(db), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "other tables (customers)" in err and err.count("\n") == 1
    assert db.read_bytes() == before and not (tmp_path / "other.db-wal").exists()


def test_a_point_that_runs_out_of_memory_is_recorded_and_the_others_finish(tmp_path, monkeypatch):
    import simulator.sweep.worker as worker

    real = worker.summarize
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError
        return real(*args)

    monkeypatch.setattr(worker, "summarize", flaky)
    spec = write_spec(tmp_path / "s.yaml", "fixed: {rank: 16}\ngrid: {ratio: [0.4, 0.5, 0.6]}\n")
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--out", str(db), "--workers", "1", "--no-progress"]) == 0
    rows = sqlite3.connect(db).execute("SELECT status, error FROM points").fetchall()
    assert sorted(r[0] for r in rows) == ["error", "ok", "ok"]
    assert any(r[1] and "out of memory" in r[1] for r in rows)


def _die_on_second_ratio(point):
    """A worker that kills its own process (as the OOM killer or a native crash would) for ratio 0.5."""
    import os

    from simulator.sweep.worker import simulate_point

    if point.workload.get("ratio") == 0.5:
        os._exit(137)
    return simulate_point(point)


def _raise_on_second_ratio(point):
    from simulator.sweep.worker import simulate_point

    if point.workload.get("ratio") == 0.5:
        raise ValueError("a bug in the worker")
    return simulate_point(point)


@pytest.mark.parametrize("worker,message", [(_die_on_second_ratio, "worker process died"),
                                            (_raise_on_second_ratio, "ValueError: a bug in the worker")])
def test_a_worker_that_dies_or_raises_is_recorded_against_its_point_and_the_others_finish(tmp_path, monkeypatch,
                                                                                         worker, message):
    import simulator.sweep.run as sweep_run

    monkeypatch.setattr(sweep_run, "simulate_point", worker)
    spec = write_spec(tmp_path / "s.yaml", "fixed: {rank: 16}\ngrid: {ratio: [0.4, 0.5, 0.6, 0.7]}\n")
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--out", str(db), "--workers", "2", "--no-progress"]) == 0
    rows = dict(sqlite3.connect(db).execute("SELECT ratio, coalesce(error, status) FROM points").fetchall())
    assert rows[0.4] == rows[0.6] == rows[0.7] == "ok"
    assert message in rows[0.5]


def test_sweep_rows_carry_provenance(tmp_path):
    import json

    from simulator.reports.provenance import canonical_sha256

    spec = write_spec(tmp_path / "s.yaml", "fixed: {rank: 16}\ngrid: {ratio: [0.4]}\n")
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--out", str(db), "--workers", "1", "--no-progress"]) == 0
    row = sqlite3.connect(db).execute("SELECT hardware, hardware_sha256, provenance, version FROM points").fetchone()
    assert canonical_sha256(json.loads(row[0])) == row[1]
    prov = json.loads(row[2])
    assert prov["simulator_version"] == row[3] and prov["command"].startswith("sslcsim sweep ")
    assert {"package_version", "git_commit", "numpy", "numba", "cpu"} <= set(prov)
