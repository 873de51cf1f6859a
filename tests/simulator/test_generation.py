"""Whole generations: exact steps equal single runs, the sampled mode's error is bounded,
and the context grows the attention core's cost."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from simulator.config import load_hw
from simulator.schedule.generation import simulate_generation, step_indices
from simulator.schedule.run import run
from sslcsim.cli import main
from tests.simulator.test_config import HW
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.kv_budget import KVBudget
from workloads.presets import ModelShape
from workloads.workload import from_shape

TINY = ModelShape("tiny", 256, 512, 8, 2, 2, 32)


def _pair(prompt: int = 40, batch: int = 2):
    return (from_shape(TINY, Budget(0.5, None), "prefill", batch, prompt),
            from_shape(TINY, None, "prefill", batch, prompt))


def test_every_exact_step_is_the_single_run_of_that_step():
    hw = load_hw(HW / "edge.yaml")
    comp, dense = _pair()
    res = simulate_generation(comp, dense, hw, 6)
    for name, w in (("compressed", comp), ("dense", dense)):
        assert res[name]["prefill_cycles"] == run(dataclasses.replace(w, scope="layer"), hw).makespan
        for i, cycles in enumerate(res[name]["step_cycles"]):
            step = dataclasses.replace(w, phase="decode", seq=1, scope="layer", context=40 + i)
            assert cycles == run(step, hw).makespan
        assert res[name]["step_cycles"][-1] > res[name]["step_cycles"][0]  # the KV cache grows


@pytest.mark.parametrize("config", ["edge.yaml", "vitcod.yaml", "gpu-a100-like.yaml"])
def test_sampled_mode_error_is_bounded_against_exact(config):
    """Measured on these cases: cycles per step at most 1.5%, the total within 0.07%; energy per
    step at most 0.04%, the total within 0.002%; bound 3% / 0.5% for both."""
    hw = load_hw(HW / config)
    comp, dense = _pair()
    exact = simulate_generation(comp, dense, hw, 150)
    sampled = simulate_generation(comp, dense, hw, 150, samples=9)
    at = step_indices(150, 9)
    assert len(at) == 9 and at[0] == 0 and at[-1] == 149
    for name in ("dense", "compressed"):
        a, b = np.asarray(exact[name]["step_cycles"]), np.asarray(sampled[name]["step_cycles"])
        assert np.array_equal(a[at], b[at])  # the simulated steps are exact
        assert np.max(np.abs(a - b) / a) < 0.03
        assert abs(a.sum() - b.sum()) / a.sum() < 0.005
        ea, eb = np.asarray(exact[name]["energy"]["step_pj"]), np.asarray(sampled[name]["energy"]["step_pj"])
        assert np.allclose(ea[at], eb[at], rtol=1e-12)  # interpolated like the cycles
        assert np.max(np.abs(ea - eb) / ea) < 0.03
        assert abs(ea.sum() - eb.sum()) / ea.sum() < 0.005
    assert "sampled: 9 of 150" in sampled["method"] and exact["method"].startswith("exact")


@pytest.mark.parametrize("kv", [KVBudget("window", window=60, sinks=4), KVBudget("topk", k=70)])
def test_sampled_mode_under_a_kv_budget_simulates_the_bend(kv):
    """The budget bends the per-step line (a window stops growing, a selection starts): sampled
    mode simulates the two steps around the bend, so the error stays that of a straight line."""
    hw = load_hw(HW / "vitcod.yaml")
    comp, dense = (dataclasses.replace(w, kv_budget=kv) for w in _pair())
    exact = simulate_generation(comp, dense, hw, 150)
    sampled = simulate_generation(comp, dense, hw, 150, samples=9)
    a, b = np.asarray(exact["compressed"]["step_cycles"]), np.asarray(sampled["compressed"]["step_cycles"])
    bend = kv.budget - comp.seq
    assert a[bend] != a[bend - 1] + (a[bend - 1] - a[bend - 2])  # the line really bends there
    assert a[bend] == b[bend] and a[bend - 1] == b[bend - 1]
    assert np.max(np.abs(a - b) / a) < 0.03 and "bend" in sampled["method"]


def _pj(r, costs) -> float:
    from simulator.energy.account import op_energy, static_pj

    return float(op_energy(r, costs).sum()) + static_pj(costs, r.makespan, r.hw.clock_mhz)


def test_generation_energy_is_the_prefill_plus_every_steps_energy():
    from simulator.energy.costs import resolve

    hw = load_hw(HW / "edge.yaml")
    costs = resolve(hw)
    comp, dense = _pair(prompt=16)
    res = simulate_generation(comp, dense, hw, 4)
    for name, w in (("compressed", comp), ("dense", dense)):
        e, g = res[name]["energy"], res[name]
        assert e["prefill_pj"] == pytest.approx(_pj(run(dataclasses.replace(w, scope="layer"), hw), costs))
        for i, step_pj in enumerate(e["step_pj"]):
            step = dataclasses.replace(w, phase="decode", seq=1, scope="layer", context=16 + i)
            assert step_pj == pytest.approx(_pj(run(step, hw), costs))
        assert e["total_pj"] == pytest.approx(e["prefill_pj"] + sum(e["step_pj"]))
        assert sum(e["by_component_pj"].values()) == pytest.approx(e["total_pj"])
        assert e["pj_per_token"] == pytest.approx(e["total_pj"] / (2 * 4))  # batch 2 x 4 new tokens
        assert e["tokens_per_joule"] == pytest.approx(1e12 / e["pj_per_token"])
        assert e["average_power_w"] == pytest.approx(e["total_pj"] * 1e-12 / g["total_s"])
    gain = res["dense"]["energy"]["total_pj"] / res["compressed"]["energy"]["total_pj"]
    assert res["energy_gain"]["total"] == pytest.approx(gain) and gain > 1.0
    assert res["area_mm2"] == pytest.approx(costs.total_area_mm2)


def test_a_config_without_technology_has_no_generation_energy():
    hw = load_hw(HW / "sslc-table4.yaml")
    assert hw.technology is None
    res = simulate_generation(*_pair(prompt=8), hw, 2)
    assert "energy" not in res["compressed"] and "energy_gain" not in res


def test_generation_input_errors():
    hw = load_hw(HW / "edge.yaml")
    comp, dense = _pair()
    with pytest.raises(InputError, match="--new-tokens 0"):
        simulate_generation(comp, dense, hw, 0)
    with pytest.raises(InputError, match="--samples 1"):
        simulate_generation(comp, dense, hw, 10, samples=1)


def test_generate_command_writes_table_json_and_plot(tmp_path, capsys):
    out = tmp_path / "g.json"
    rc = main(["generate", "--model", "smollm2-135m", "--layers", "2", "--hw", str(HW / "vitcod.yaml"), "--prompt", "32",
               "--new-tokens", "8", "--samples", "3", "--json", str(out), "--plot", str(tmp_path / "fig")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "time to first token" in text and "tokens/s" in text and "sampled: 3 of 8" in text
    res = json.loads(out.read_text())
    assert res["provenance"]["workload"]["new_tokens"] == 8
    assert len(res["compressed"]["step_cycles"]) == 8
    assert res["speedup"]["total"] > 1.0
    assert (tmp_path / "fig" / "generation.png").stat().st_size > 0
    assert "energy per token (decode steps)" in text and "tokens per joule" in text  # vitcod has a technology
    assert res["compressed"]["energy"]["pj_per_token"] > 0 and res["energy_gain"]["decode"] > 1.0
    assert main(["generate", "--model", "smollm2-135m", "--hw", str(HW / "vitcod.yaml"), "--prompt", "0",
                 "--new-tokens", "8"]) == 2


def test_generate_on_an_artifact(tmp_path, capsys):
    from tests.workloads.artifact_fixture import write_artifact

    write_artifact(tmp_path / "art")
    assert main(["generate", "--artifact", str(tmp_path / "art"), "--hw", str(HW / "edge.yaml"), "--prompt", "16",
                 "--new-tokens", "4", "--json", str(tmp_path / "g.json")]) == 0
    res = json.loads((tmp_path / "g.json").read_text())
    assert res["provenance"]["workload"]["kind"] == "artifact" and res["method"].startswith("exact")


def test_reproduce_table5_prints_ours_beside_the_papers(tmp_path, capsys):
    out = tmp_path / "t5.json"
    assert main(["reproduce", "table5", "--new-tokens", "4", "--samples", "2", "--prompt", "16", "--json",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert "1.34x" in text and "1.45x" in text and "1.67x" in text and "sparse-only" in text and "SSLC" in text
    res = json.loads(out.read_text())
    assert [r["sparsity"] for r in res["rows"]] == [0.5, 0.6, 0.7, 0.5, 0.6, 0.7]
    for reading in ("sparse-only", "SSLC"):
        speedups = [r["speedup"] for r in res["rows"] if r["reading"] == reading]
        assert speedups == sorted(speedups) and speedups[0] > 1.0


def test_the_default_job_reports_the_end_to_end_generation_of_its_artifact(tmp_path):
    """`sslcsim run`'s generation step (sslcsim/commands/run.py) on an artifact: whole decoder
    layers, every step exact, beside (not instead of) the projections-only table."""
    import argparse

    from sslcsim.commands.run import _generation, _Job
    from tests.workloads.artifact_fixture import write_artifact

    write_artifact(tmp_path / "art")
    args = argparse.Namespace(model="tiny", ratio=0.5, hw=str(HW / "vitcod.yaml"), batch=1, prefill_seq=16,
                              new_tokens=4, seed=0, calib_samples=2, calib_seqlen=32, iters=2, eval_windows=2,
                              eval_seqlen=32, out=str(tmp_path / "out"), argv=["run"])
    job = _Job(args, load_hw(args.hw))
    _generation(job, tmp_path / "art")
    job.steps.close()
    md = "\n".join(job.md)
    assert "End to end: whole decoder layers on vitcod" in md and "prompt 16 + 4 new tokens" in md
    for row in ("time to first token", "per-token latency, median", "tokens/s (whole generation)",
                "active share: attention core", "energy per token (decode steps)"):
        assert f"| {row} |" in md
    res = json.loads((tmp_path / "out" / "generation.json").read_text())
    assert res["method"].startswith("exact") and len(res["compressed"]["step_cycles"]) == 4
    assert res["provenance"]["workload"]["new_tokens"] == 4
    assert (tmp_path / "out" / "generation.png").stat().st_size > 0 and "generate_s" in job.timings
