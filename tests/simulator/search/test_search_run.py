"""The search driver and its outputs: infeasible points, provenance and re-runs, the Pareto
report, Dask against the local pool, and workers that never import torch."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from search_helpers import REPO, spec_data, trial_table, write_spec

from simulator.search.pareto import pareto, require_study, results
from simulator.search.run import run_search
from simulator.search.spec import load_search
from simulator.sweep.executors import LocalExecutor
from sslcsim.cli import main


def _run(search, db, executor=None):
    ex = executor or LocalExecutor(2)
    try:
        return run_search(search, db, ex, progress=False)
    finally:
        ex.close()


def test_infeasible_points_are_recorded_and_counted(tmp_path):
    import optuna

    # rank 128 cannot be met by SmolLM2's 192 x 576 k_proj at ratio 0.5: half the choices are infeasible
    data = spec_data(trials=10, sampler="random", population=None)
    data["search"]["axes"] = {"rank": [8, 128], "dram.bandwidth_gbps": {"low": 3.2, "high": 51.2}}
    search = load_search(write_spec(tmp_path / "s.yaml", data))
    out = _run(search, tmp_path / "s.db")
    study = require_study(search, tmp_path / "s.db")
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert out.ran == 10 and out.infeasible == len(pruned) > 0
    for t in pruned:
        assert t.params["rank"] == 128 and "budget cannot be met" in t.user_attrs["error"]
    assert all(t.params["rank"] == 8 for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def test_a_point_sampled_again_reuses_its_result(tmp_path):
    data = spec_data(trials=12, sampler="random", population=None)
    data["search"]["axes"] = {"rank": [8, 16], "pattern": ["unstructured", "2:4"]}  # 4 points, 12 trials
    search = load_search(write_spec(tmp_path / "s.yaml", data))
    out = _run(search, tmp_path / "s.db")
    study = require_study(search, tmp_path / "s.db")
    simulated = [t for t in study.trials if "duplicate_of" not in t.user_attrs]
    assert out.reused == 12 - len(simulated) >= 8
    assert len({t.user_attrs["point"]["point_key"] for t in simulated}) == len(simulated)  # none simulated twice
    for t in study.trials:
        if "duplicate_of" in t.user_attrs:
            first = study.trials[t.user_attrs["duplicate_of"]]
            assert t.values == first.values and t.params == first.params


def test_cli_report_and_reruns(tmp_path, capsys):
    """The Pareto table and sweep spec; --rerun N gives the stored values again; the Pareto
    sweep spec re-runs exactly the stored points (same keys)."""
    spec = write_spec(tmp_path / "s.yaml", trials=10)
    db = tmp_path / "s.db"
    assert main(["search", str(spec), "--out", str(db), "--workers", "2", "--no-progress", "--formats", "png"]) == 0
    report = tmp_path / "s-pareto"
    assert {p.name for p in report.iterdir()} == {"pareto.md", "pareto.csv", "pareto.png", "pareto-sweep.yaml"}
    search = load_search(spec)
    front = pareto(search, results(require_study(search, db)))
    md = (report / "pareto.md").read_text()
    assert f"{len(front)} on the Pareto set" in md
    assert all(f"\n| {t.number} |" in md for t in front)
    capsys.readouterr()
    assert main(["search", str(spec), "--out", str(db), "--rerun", str(front[0].number)]) == 0
    assert capsys.readouterr().out.strip().endswith("identical")
    assert main(["search", str(spec), "--out", str(db), "--rerun", "999"]) == 2
    assert "no simulated trial 999" in capsys.readouterr().err
    from simulator.sweep.spec import load_spec

    sweep = load_spec(report / "pareto-sweep.yaml")
    assert [p.key for p in sweep.points] == [t.provenance["point_key"] for t in front]


def test_rerun_notices_a_changed_hardware_file(tmp_path, capsys):
    hw = yaml.safe_load((REPO / "hwconfigs" / "edge.yaml").read_text())
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(hw))
    data = spec_data(trials=2)
    data["hardware"] = "hw.yaml"
    spec = write_spec(tmp_path / "s.yaml", data)
    db = tmp_path / "s.db"
    assert main(["search", str(spec), "--out", str(db), "--workers", "1", "--no-progress", "--formats", "png"]) == 0
    hw["dram"]["latency_ns"] = 500
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(hw))
    capsys.readouterr()
    assert main(["search", str(spec), "--out", str(db), "--rerun", "0"]) == 1
    assert "hardware sha256: stored" in capsys.readouterr().out


def test_dask_gives_the_local_trials(tmp_path):
    from simulator.sweep.executors import DaskExecutor

    search = load_search(write_spec(tmp_path / "s.yaml", trials=4))  # population 4: the first generation is seeded
    _run(search, tmp_path / "local.db")
    _run(search, tmp_path / "dask.db", DaskExecutor(2, processes=False))
    assert trial_table(tmp_path / "local.db") == trial_table(tmp_path / "dask.db")


def test_search_imports_no_torch(tmp_path):
    """The driver (CLI, Optuna, the sweep worker it forks) runs without importing torch."""
    spec = write_spec(tmp_path / "s.yaml", trials=3)
    code = ("import sys, json; from sslcsim.cli import main; "
            f"rc = main(['search', {str(spec)!r}, '--out', {str(tmp_path / 's.db')!r}, '--workers', '1', "
            "'--no-progress', '--formats', 'png']); "
            "print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    rc, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert rc == 0 and heavy == [], out.stderr


def test_one_worker_is_reproducible(tmp_path):
    """With one worker every generation of NSGA-II sees the same finished trials: a seed gives
    the same trials, past the first (random) generation."""
    search = load_search(write_spec(tmp_path / "s.yaml", trials=12))  # population 4: 3 generations
    _run(search, tmp_path / "a.db", LocalExecutor(1))
    _run(search, tmp_path / "b.db", LocalExecutor(1))
    assert trial_table(tmp_path / "a.db") == trial_table(tmp_path / "b.db")
