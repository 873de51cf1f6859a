"""Hardware-aware global allocation (issue 21): planted costs move the budget toward cheap
projections and meet the cost target; global allocation for the pruning methods; the CLI
builds the cost table with the simulator and records it in the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compression import allocation, cost_allocation, pipeline
from compression.allocation import Share
from compression.cost_allocation import CostTable
from sslcsim.cli import main
from workloads.errors import InputError

from _tiny_models import loaded, save_tiny_model_dir

HW = Path(__file__).resolve().parents[2] / "hwconfigs"


def _planted_table(sizes, ratio: float, per_entry: dict, split: bool = True) -> CostTable:
    """Each candidate of shape s costs per_entry[s] per kept entry (dense: per_entry x m n)."""
    cands = {s: {(c.kept, c.rank): per_entry[s] * c.kept for c in allocation.candidates(*s, ratio, None, split)}
             for s in set(sizes)}
    return CostTable(cands, {s: per_entry[s] * s[0] * s[1] for s in set(sizes)}, "cycles")


def test_equal_loss_cheap_projection_gets_the_budget_and_the_cost_target_is_met():
    """Two 48 x 96 projections with the same weights and inputs (so the same loss curve): one
    costs 1 per kept entry, the other 10. At the loss-only allocation's cost, the cheap one
    keeps more than the expensive one (loss-only: the same for both), and the total cost is
    the target to within one rank unit of the expensive one."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(48, 96, generator=g)
    act = torch.rand(96, generator=g) + 0.5
    curve = allocation.error_curve(W, act, 0.4, None, torch.ones(48))
    curves = allocation.Curves(["0.a", "0.b"], [(48, 96), (48, 96)], [0, 0], [curve, curve], {})
    cheap = cost_allocation.cost_model(_planted_table([(48, 96)], 0.4, {(48, 96): 1.0}), 48, 96, [s for s, _ in curve])
    dear = cost_allocation.cost_model(_planted_table([(48, 96)], 0.4, {(48, 96): 10.0}), 48, 96, [s for s, _ in curve])
    budget = int(round(0.4 * 2 * 48 * 96))
    ref = allocation.top_up(allocation.allocate_global(curves.curves, budget), curves.sizes, budget, None)
    assert ref[0].kept == ref[1].kept or abs(ref[0].kept - ref[1].kept) <= 1
    target = cheap.cost(ref[0]) + dear.cost(ref[1])
    grid, _ = cost_allocation.allocate(curves.curves, [cheap, dear], cost_target=target)
    shares = cost_allocation.spend(grid, curves.sizes, [cheap, dear], target)
    assert shares[0].kept > ref[0].kept and shares[1].kept < ref[1].kept
    cost = cheap.cost(shares[0]) + dear.cost(shares[1])
    assert 0 <= target - cost <= 10.0 * (48 + 96)  # within one rank unit of the dear projection
    assert sum(s.kept for s in shares) > sum(s.kept for s in ref)  # cheap entries replace dear ones


def test_loss_target_gives_the_least_cost_within_it():
    g = torch.Generator().manual_seed(1)
    curves = [allocation.error_curve(torch.randn(32, 64, generator=g), torch.rand(64, generator=g) + 0.5, 0.5, None,
                                     torch.ones(32)) for _ in range(3)]
    models = [cost_allocation.cost_model(_planted_table([(32, 64)], 0.5, {(32, 64): float(k + 1)}), 32, 64,
                                         [s for s, _ in c]) for k, c in enumerate(curves)]
    best = sum(min(e for _, e in c) for c in curves)
    spent = {}
    for factor in (1.0, 1.5, 3.0):  # a looser loss target costs less, and is met
        shares, _ = cost_allocation.allocate(curves, models, loss_target=factor * best)
        assert sum(dict(c)[s] for c, s in zip(curves, shares)) <= factor * best
        spent[factor] = sum(m.cost(s) for m, s in zip(models, shares))
    assert spent[1.0] >= spent[1.5] >= spent[3.0] and spent[1.0] > spent[3.0]
    limit = 1.2 * best
    with pytest.raises(InputError, match="least loss estimate"):
        cost_allocation.allocate(curves, models, loss_target=0.5 * limit / 1.2)
    with pytest.raises(InputError, match="cheapest candidates"):
        cost_allocation.allocate(curves, models, cost_target=1.0)


@pytest.mark.parametrize("method", ["sslc", "sparsegpt"])
def test_planted_costs_on_a_tiny_model_move_the_budget_and_meet_the_target(method, tmp_path):
    """The tiny LLaMA with q_proj/o_proj (64 x 64) made 20x dearer per kept entry than the
    other projections: at the loss-only allocation's cost they keep less than loss-only gives
    them, the others more, and the table cost equals the target within one rank unit."""
    sizes = [(64, 64), (32, 64), (128, 64), (64, 128)]
    per_entry = {s: (20.0 if s == (64, 64) else 1.0) for s in sizes}
    hp = {"ratio": 0.4, "allocation": "global", **({"iters": 4} if method == "sslc" else {})}
    ref = pipeline.compress_model(loaded(), method, hp, 0, str(tmp_path / "ref"), calib_samples=4,
                                  calib_seqlen=32, show_progress=False)
    cost = {"hardware": "planted", "hardware_sha256": "0" * 64, "phase": "decode", "metric": "cycles", "batch": 1,
            "seq": 1, "target": None, "loss_target": None, "masks": "synthetic"}
    table = _planted_table(sizes, 0.4, per_entry, split=method == "sslc")
    man = pipeline.compress_model(loaded(), method, {**hp, "cost": cost}, 0, str(tmp_path / "hw"), calib_samples=4,
                                  calib_seqlen=32, show_progress=False, costs=table)
    rec = man["allocation_cost"]
    assert rec["phase"] == "decode" and rec["hardware"] == "planted" and rec["unit"] == "cycles"
    assert rec["target_cost"] == pytest.approx(rec["loss_only_cost"])
    assert 0 <= rec["target_cost"] - rec["cost"] <= 20.0 * (64 + 64)
    dear = lambda a: sum(k for key, (k, _r) in a.items() if key.endswith(("q_proj", "o_proj")))  # noqa: E731
    cheap = lambda a: sum(k for key, (k, _r) in a.items() if not key.endswith(("q_proj", "o_proj")))  # noqa: E731
    assert dear(man["allocation"]) < dear(ref["allocation"]) and cheap(man["allocation"]) > cheap(ref["allocation"])
    recount = sum((20.0 if k.endswith(("q_proj", "o_proj")) else 1.0) * kept
                  for k, (kept, _r) in man["allocation"].items())
    assert recount == pytest.approx(rec["cost"])  # linear planted costs: the record is the sum
    if method == "sparsegpt":
        assert all(r == 0 for _k, r in man["allocation"].values())


def test_global_allocation_for_pruning_methods_moves_only_the_sparse_budget(tmp_path):
    for method in ("magnitude", "wanda", "sparsegpt"):
        man = pipeline.compress_model(loaded(), method, {"ratio": 0.4, "allocation": "global"}, 0,
                                      str(tmp_path / method), calib_samples=4, calib_seqlen=32, show_progress=False)
        kept = [k for k, _ in man["allocation"].values()]
        assert all(r == 0 for _, r in man["allocation"].values()) and len(set(kept)) > 2
        total = sum(p["nnz"] for layer in man["layers"] for p in layer["projections"])
        size = sum(p["shape"][0] * p["shape"][1] for layer in man["layers"] for p in layer["projections"])
        assert total == sum(kept) == round(0.4 * size)


def test_stage1_prices_each_candidate_on_its_own_salience_mask():
    from compression import calibration, text

    g = torch.Generator().manual_seed(2)
    W, act = torch.randn(24, 40, generator=g), torch.rand(40, generator=g) + 0.5
    masks = {}
    allocation.error_curve(W, act, 0.5, None, torch.ones(24), True, lambda c, mk: masks.__setitem__(c, mk.copy()))
    sal = (W * act).square().numpy()
    for c, mk in masks.items():
        assert mk.shape == (24, 40) and int(mk.sum()) == c.kept - c.rank * (24 + 40)
        if c.rank == 0 and 0 < mk.sum() < mk.size:  # rank 0: the largest salience entries are the kept ones
            assert sal[mk].min() >= sal[~mk].max()
    lm = loaded()
    ids = calibration.token_windows(lm.tokenizer, text.read_text(None)[0], 32, 4, 0)
    chunks = calibration.capture_inputs(lm.model, ids, 8, True)
    c = allocation.measure(lm, chunks, ids, {"allocation": "global", "ratio": 0.4, "pattern": "unstructured"}, 2,
                           mask_cost=lambda m, n, rank, mask: float(mask.sum()) + 10.0 * rank)
    assert len(c.costs) == len(c.curves) == 14
    for curve, pts, (m, n) in zip(c.curves, c.costs, c.sizes):
        assert set(pts) == {s for s, _ in curve}
        assert all(v == s.kept - s.rank * (m + n) + 10.0 * s.rank for s, v in pts.items())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def test_cli_builds_the_table_with_the_simulator_and_records_it(model_dir, tmp_path, capsys):
    art, cache = tmp_path / "art", tmp_path / "costs.json"
    argv = ["compress", "--model", str(model_dir), "--method", "sslc", "--iters", "2", "--ratio", "0.5",
            "--allocation", "global", "--cost-hw", str(HW / "vitcod.yaml"), "--cost-phase", "both", "--cost", "energy",
            "--cost-cache", str(cache), "--calib-samples", "4", "--calib-seqlen", "32", "--out", str(art),
            "--no-progress"]
    assert main(argv) == 0
    man = json.loads((art / "manifest.json").read_text())
    rec = man["allocation_cost"]
    assert rec["hardware"] == "vitcod" and rec["phase"] == "both" and rec["metric"] == "energy"
    assert man["hyperparameters"]["cost"]["hardware_sha256"] == rec["hardware_sha256"]
    assert 0 < rec["cost"] <= rec["target_cost"] and rec["target_cost"] == pytest.approx(rec["loss_only_cost"])
    assert rec["unit"].startswith("relative") and rec["dense_cost"] == pytest.approx(2.0)  # two phases, each 1
    keys = json.loads(cache.read_text())
    assert keys and all(k.split("|")[1] in ("decode", "prefill") and "|mask:" in k for k in keys)
    assert main(argv[:-3] + ["--cost-masks", "synthetic", "--out", str(tmp_path / "syn"), "--no-progress"]) == 0
    syn = json.loads((tmp_path / "syn" / "manifest.json").read_text())
    assert syn["hyperparameters"]["cost"]["masks"] == "synthetic"
    assert 0 < syn["allocation_cost"]["cost"] <= syn["allocation_cost"]["target_cost"]
    out = tmp_path / "r.json"  # shape-only users: the manifest is an allocation file
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text((model_dir / "config.json").read_text())
    assert main(["simulate", "--model", str(tmp_path / "cfg" / "config.json"), "--hw", str(HW / "vitcod.yaml"),
                 "--allocation-file", str(art / "manifest.json"), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["totals"]["total_cycles"] > 0


@pytest.mark.parametrize("extra,needle", [
    (["--cost-target", "0.5"], "--cost-target: needs --cost-hw"),
    (["--cost-hw", "HW"], "use --allocation global"),
    (["--allocation", "global", "--cost-hw", "HW", "--pattern", "2:4"], "N:M pattern"),
    (["--allocation", "global", "--cost-hw", "HW", "--cost-target", "-1"], "--cost-target: expected a positive"),
    (["--allocation", "global", "--cost-hw", "HW", "--cost-target", "0.5", "--loss-target", "2"], "give one of them"),
    (["--allocation", "global", "--cost-hw", "HW", "--cost-target", "0.01"], "cheapest candidates"),
    (["--allocation", "global", "--cost-hw", "NOTECH", "--cost", "energy"], "needs a 'technology'"),
])
def test_bad_cost_options_are_one_line_errors(model_dir, tmp_path, capsys, extra, needle):
    notech = tmp_path / "notech.yaml"
    notech.write_text("\n".join(line for line in (HW / "vitcod.yaml").read_text().splitlines()
                                if not line.startswith(("technology", "  node_nm", "  mac_precision",
                                                        "  vector_precision", "  dram_type"))))
    extra = [str(HW / "vitcod.yaml") if a == "HW" else str(notech) if a == "NOTECH" else a for a in extra]
    argv = ["compress", "--model", str(model_dir), "--method", "sslc", "--iters", "2", "--calib-samples", "4",
            "--calib-seqlen", "32", "--out", str(tmp_path / "a"), "--no-progress"] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err


def test_importing_the_cost_builder_imports_no_torch():
    code = "import sys, sslcsim.costs; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2]).returncode == 0


def test_frontier_takes_hardware_aware_allocations_as_a_method_variant(model_dir, tmp_path, capsys):
    import sqlite3

    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(f"name: tiny\nmodel: {model_dir}\nmethods: [sslc, sparsegpt]\nallocations: [global]\n"
                    f"ratios: [0.5]\nhardware: [{HW / 'vitcod.yaml'}]\nphases: [{{phase: decode}}]\n"
                    f"hardware_aware: [{{hardware: {HW / 'vitcod.yaml'}, phase: decode, cost: cycles}}]\n"
                    "calibration: {samples: 2, seqlen: 32}\nevaluation: {windows: 2, seqlen: 32}\n"
                    "hyperparameters: {sslc: {iters: 2}}\n")
    assert main(["frontier", str(spec), "--out", str(out), "--no-progress"]) == 0
    assert "4 points, 0 already done, 4 run" in capsys.readouterr().out
    rows = dict(sqlite3.connect(out / "frontier.db").execute("SELECT label, status FROM frontier").fetchall())
    assert rows["sslc-hw-vitcod-decode-cycles-0.5"] == rows["sparsegpt-hw-vitcod-decode-cycles-0.5"] == "ok"
    table = (out / "frontier.md").read_text()
    assert "| sparsegpt | hw-vitcod-decode-cycles | 0.5 |" in table and "| sparsegpt | global | 0.5 |" in table
    man = json.loads((out / "artifacts" / "sslc-hw-vitcod-decode-cycles-0.5" / "manifest.json").read_text())
    assert man["allocation_cost"]["phase"] == "decode" and man["allocation_cost"]["cost"] > 0
    assert (out / "cost_cache.json").exists() and (out / "pareto.png").stat().st_size > 0
    bad = tmp_path / "bad.yaml"
    notech = tmp_path / "notech.yaml"
    notech.write_text("\n".join(line for line in (HW / "vitcod.yaml").read_text().splitlines()
                                if not line.startswith(("technology", "  node_nm", "  mac_precision",
                                                        "  vector_precision", "  dram_type"))))
    bad.write_text(spec.read_text().replace(f"{{hardware: {HW / 'vitcod.yaml'}, phase: decode, cost: cycles}}",
                                            f"{{hardware: {notech}, cost: energy}}"))
    assert main(["frontier", str(bad), "--out", str(tmp_path / "o2"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "hardware_aware[0].cost" in err and err.count("\n") == 0
