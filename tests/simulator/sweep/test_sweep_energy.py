"""Energy and area in sweeps: the columns on a technology config, None without one, the Pareto
plot on energy, `--rank-by` tables, and the refusal of a database with the older layout."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from sweep_helpers import HW as TABLE4, REPO

from simulator.plots.sweep_plots import Axis, direction, rank_table
from simulator.sweep.spec import load_spec
from simulator.sweep.store import COLUMNS, Store
from simulator.sweep.worker import ENERGY_FIELDS, simulate_point
from sslcsim.cli import main
from workloads.errors import InputError

EDGE = REPO / "hwconfigs" / "edge.yaml"
BODY = """fixed: {phase: decode, rank: 16}
grid:
  ratio: [0.3, 0.6]
  dram.bandwidth_gbps: [6.4, 25.6]
  buffers.weight_kib: [64, 128]
"""  # 8 points


def _spec(path: Path, hw: Path, body: str = BODY) -> Path:
    path.write_text(f"name: e\nhardware: {hw}\nmodel: smollm2-135m\nlayers: 2\n{body}")
    return path


@pytest.fixture(scope="module")
def energy_db(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("energy")
    spec, db = _spec(d / "e.yaml", EDGE), d / "e.db"
    assert main(["sweep", str(spec), "--out", str(db), "--workers", "1", "--no-progress"]) == 0
    return spec, db


def _rows(db: Path) -> list[dict]:
    store = Store(db)
    try:
        return store.rows()
    finally:
        store.close()


def test_a_technology_config_gives_finite_consistent_energy_columns(energy_db):
    rows = _rows(energy_db[1])
    assert len(rows) == 8
    for r in rows:
        for k in ENERGY_FIELDS:
            assert isinstance(r[k], float) and math.isfinite(r[k]) and r[k] > 0, (k, r[k])
        assert r["pj_per_token"] == pytest.approx(r["energy_uj"] * 1e6)  # decode, batch 1: one token
        assert r["dense_pj_per_token"] == pytest.approx(r["dense_energy_uj"] * 1e6)
        assert r["energy_gain"] == pytest.approx(r["dense_pj_per_token"] / r["pj_per_token"])
        assert r["edp"] == pytest.approx(r["pj_per_token"] * r["seconds"])
        assert r["tokens_per_joule"] == pytest.approx(1e12 / r["pj_per_token"])
        assert r["tokens_per_s_per_mm2"] == pytest.approx(1 / r["seconds"] / r["area_mm2"])
    # the area follows the hardware, not the budget: a larger weight buffer is a larger chip
    area = {(r["params"]["buffers.weight_kib"], r["params"]["ratio"]): r["area_mm2"] for r in rows}
    assert area[(128, 0.3)] > area[(64, 0.3)] and area[(64, 0.3)] == area[(64, 0.6)]


def test_a_config_without_technology_gives_none_columns(tmp_path):
    point = load_spec(_spec(tmp_path / "s.yaml", TABLE4, "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n")).points[0]
    assert point.hardware.get("technology") is None
    row = simulate_point(point)
    assert row["status"] == "ok" and row["speedup"] > 0
    assert all(row[k] is None for k in ENERGY_FIELDS) and row["energy_uj"] is None


def test_rank_by_orders_rows_best_first(energy_db, tmp_path, capsys):
    spec, db = energy_db
    out = tmp_path / "plots"
    assert main(["plot", str(db), "--spec", str(spec), "--out", str(out), "--formats", "png", "--cost",
                 "pj_per_token", "--rank-by", "pj_per_token", "--rank-by", "edp", "--rank-by", "speedup",
                 "--top", "5"]) == 0, capsys.readouterr().err
    assert (out / "pareto_pj_per_token.png").stat().st_size > 1000
    assert main(["plot", str(db), "--out", str(out), "--formats", "png", "--cost", "pj_per_token",
                 "--pareto-y", "seconds"]) == 0  # time per step, lower is better, against energy
    assert (out / "pareto_pj_per_token_seconds.png").stat().st_size > 1000
    rows = _rows(db)
    for metric, lower in (("pj_per_token", True), ("edp", True), ("speedup", False)):
        text = (out / f"rank_{metric}.md").read_text()
        assert f"ranked by {metric} ({'lower' if lower else 'higher'} is better)" in text
        body = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| #")]
        assert [int(line.split("|")[1]) for line in body] == [1, 2, 3, 4, 5]
        want = sorted(rows, key=lambda r: r[metric] if lower else -r[metric])[:5]
        # the axis columns (ratio, bandwidth, weight KiB) identify each ranked point
        got = [tuple(c.strip() for c in line.split("|")[2:5]) for line in body]
        assert got == [(f"{r['params']['ratio']:g}", f"{r['params']['dram.bandwidth_gbps']:g}",
                        str(r["params"]["buffers.weight_kib"])) for r in want]


def test_the_pareto_front_of_a_lower_is_better_y_axis():
    from simulator.plots.sweep_plots import pareto

    rows = [{"params": {"x": i}, "model": "m", "phase": "decode", "batch": 1, "sweep": "s", "pj_per_token": e,
             "seconds": t} for i, (e, t) in enumerate([(1.0, 4.0), (2.0, 2.0), (3.0, 3.0), (4.0, 1.0), (2.5, 2.0)])]
    _, front = pareto(rows, "pj_per_token", "seconds")
    assert [r["params"]["x"] for r in front] == [0, 1, 3]  # (3, 3) and (2.5, 2) are dominated by (2, 2)


def test_rank_table_direction_ties_and_missing_values():
    rows = [{"params": {"x": i}, "model": "m", "phase": "decode", "batch": 1, "sweep": "s", "pj_per_token": v,
             "speedup": s} for i, (v, s) in enumerate([(3.0, 1.0), (1.0, 2.0), (None, 9.0), (1.0, 1.5)])]
    text = rank_table(rows, [Axis(("x",))], "pj_per_token")
    order = [line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| ") and "#" not in line]
    assert order == ["1", "3", "0"]  # ties keep point order; the row without the metric is left out
    assert "1 without pj_per_token left out" in text
    assert direction("tokens_per_joule") == "higher" and direction("area_mm2") == "lower"
    with pytest.raises(InputError, match="--rank-by colour"):
        direction("colour")


@pytest.mark.parametrize("args, message", [
    (["--rank-by", "colour"], "--rank-by colour: expected one of"),
    (["--rank-by", "pj_per_token"], "--rank-by pj_per_token: no result has it"),
    (["--cost", "edp"], "--cost edp: no result has it"),
    (["--top", "0"], "--top 0: expected a positive number"),
    (["--pareto-y", "colour"], "--pareto-y colour: expected one of"),
    (["--pareto-y", "tokens_per_joule"], "--pareto-y tokens_per_joule: no result has it"),
])
def test_energy_plot_arguments_on_a_config_without_technology(tmp_path, capsys, args, message):
    spec = _spec(tmp_path / "s.yaml", TABLE4, "fixed: {rank: 16}\ngrid: {ratio: [0.4, 0.5]}\n")
    db = tmp_path / "r.db"
    assert main(["sweep", str(spec), "--out", str(db), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "p"
    assert main(["plot", str(db), "--out", str(out), "--formats", "png", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()  # refused before any file is written


def test_a_database_with_the_layout_before_energy_is_refused_in_one_line(tmp_path, capsys):
    db = tmp_path / "old.db"
    old = [(c, t) for c, t, _ in COLUMNS if c not in ENERGY_FIELDS]
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE points ({', '.join(f'{c!r} {t}' for c, t in old)})")
    before = db.read_bytes()
    for argv in (["sweep", str(_spec(tmp_path / "s.yaml", EDGE)), "--out", str(db), "--no-progress"],
                 ["plot", str(db), "--out", str(tmp_path / "p")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "sweep results table has an older layout (missing pj_per_token" in err
        assert "run the sweep again into a new --out" in err
    assert db.read_bytes() == before



def _heavy_modules_after(code: str) -> tuple:
    """Runs `code` in a fresh interpreter; (its printed result, the torch/transformers modules it loaded)."""
    import json
    import subprocess
    import sys

    code += ("; import json, sys; print(json.dumps([rc, sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('torch', 'transformers'))]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_sweep_and_its_worker_import_no_torch(tmp_path):
    """The sweep driver (CLI, store, executor) and the worker's simulate_point run without torch
    or transformers."""
    spec = _spec(tmp_path / "s.yaml", EDGE, "fixed: {phase: decode, rank: 16}\ngrid: {ratio: [0.3, 0.6]}\n")
    driver = (f"from sslcsim.cli import main; rc = main(['sweep', {str(spec)!r}, '--out', "
              f"{str(tmp_path / 's.db')!r}, '--workers', '2', '--no-progress'])")
    assert _heavy_modules_after(driver) == (0, [])
    worker = (f"from simulator.sweep.spec import load_spec; from simulator.sweep.worker import simulate_point; "
              f"rc = simulate_point(load_spec({str(spec)!r}).points[0])['status']")
    assert _heavy_modules_after(worker) == ("ok", [])
