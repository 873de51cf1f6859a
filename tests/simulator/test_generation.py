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
    """Measured on these cases: per step at most 1.5%, the total within 0.07%; bound 3% / 0.5%."""
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
    assert "sampled: 9 of 150" in sampled["method"] and exact["method"].startswith("exact")


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
