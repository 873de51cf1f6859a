"""`sslcsim frontier` on a tiny model: table, Pareto plot, resume without redoing points, bad specs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from _tiny_models import save_tiny_model_dir
from simulator.plots.frontier_plots import pareto
from sslcsim.cli import main

HW = Path(__file__).resolve().parents[2] / "hwconfigs"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def _spec(tmp_path: Path, model_dir: Path, body: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: tiny\nmodel: {model_dir}\nmethods: [sslc, wanda]\nallocations: [uniform, global]\n"
                    f"ratios: [0.5, 0.3]\nhardware: [{HW / 'vitcod.yaml'}]\n"
                    "phases: [{phase: decode}, {phase: prefill, seq: 16}]\n"
                    "calibration: {samples: 2, seqlen: 32}\nevaluation: {windows: 2, seqlen: 32}\n"
                    "hyperparameters: {sslc: {iters: 2}}\n" + body)
    return spec


def test_frontier_writes_table_and_plot_and_resumes(model_dir, tmp_path, capsys):
    spec, out = _spec(tmp_path, model_dir), tmp_path / "out"
    assert main(["frontier", str(spec), "--out", str(out), "--no-progress"]) == 0
    assert "8 points, 0 already done, 8 run" in capsys.readouterr().out
    rows = sqlite3.connect(out / "frontier.db").execute(
        "SELECT label, status, perplexity, simulations FROM frontier").fetchall()
    assert len(rows) == 9 and all(r[1] == "ok" and r[2] > 1 for r in rows)  # 8 points + dense
    table = (out / "frontier.md").read_text()
    assert "| sslc | global | 0.5 |" in table and "speedup vitcod decode (x)" in table
    assert (out / "pareto.png").stat().st_size > 0 and (out / "frontier.csv").exists()
    # vitcod.yaml has a technology: energy per token and the energy gain per point, and their Pareto plot
    assert "pJ/token vitcod decode" in table and "energy gain vitcod prefill (x)" in table
    sims = [json.loads(r[3]) for r in rows if r[3]]
    assert sims and all(s["vitcod|decode"]["pj_per_token"] > 0 and s["vitcod|decode"]["energy_gain"] > 0
                        for s in sims)
    assert (out / "pareto_energy.png").stat().st_size > 0
    before = (out / "frontier.db").stat().st_mtime_ns
    assert main(["frontier", str(spec), "--out", str(out), "--no-progress"]) == 0  # killed and rerun: nothing redone
    assert "8 points, 8 already done, 0 run" in capsys.readouterr().out
    assert len(sqlite3.connect(out / "frontier.db").execute("SELECT key FROM frontier").fetchall()) == 9
    assert (out / "frontier.db").stat().st_mtime_ns >= before


@pytest.mark.parametrize("body,needle", [("seed: -1\n", "'seed'"), ("colour: red\n", "unknown key"),
                                         ("hyperparameters: {svd: {iters: 2}}\n", "duplicate key")])
def test_bad_specs_are_one_line_errors(model_dir, tmp_path, capsys, body, needle):
    spec = _spec(tmp_path, model_dir, body)
    assert main(["frontier", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not (tmp_path / "o").exists()


def test_pareto_front():
    assert pareto([(1.0, 10.0), (1.5, 12.0), (1.4, 13.0), (2.0, 30.0), (1.2, 9.0)]) == [
        (1.2, 9.0), (1.5, 12.0), (2.0, 30.0)]


def test_the_shipped_example_spec_is_valid():
    from sslcsim.frontier.spec import load_frontier

    fr = load_frontier(Path(__file__).resolve().parents[2] / "examples" / "frontier-smollm2.yaml")
    assert [p.label for p in fr.points] == ["sslc-obs-uniform-0.5", "sslc-obs-uniform-0.4", "sslc-obs-global-0.5",
                                            "sslc-obs-global-0.4", "sparsegpt-uniform-0.5", "sparsegpt-uniform-0.4",
                                            "sparsegpt-global-0.5", "sparsegpt-global-0.4"]


def test_the_default_job_runs_end_to_end_on_a_tiny_model(model_dir, tmp_path, capsys):
    """`sslcsim run` (what `make run` does), every step, on a tiny model with small settings."""
    out = tmp_path / "report"
    assert main(["run", "--model", str(model_dir), "--iters", "2", "--calib-samples", "2", "--calib-seqlen", "32",
                 "--eval-windows", "2", "--eval-seqlen", "32", "--prefill-seq", "32", "--cache", str(tmp_path / "cache"),
                 "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "Table 4" in report and "sparse busy synthetic" in report  # the last two steps ran
    assert any(p.suffix == ".png" for p in out.iterdir())
