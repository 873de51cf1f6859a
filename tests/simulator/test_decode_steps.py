"""Decode steps at speed (simulator/schedule/steps.py) give exactly what scheduling every
step from scratch gives: makespan, class costs and energy, on random configs and models, on
the shipped configs, on an artifact and over a whole generation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.config import load_hw, parse_hw
from simulator.energy.costs import resolve
from simulator.reports.op_classes import class_costs
from simulator.schedule.generation import _energy, simulate_generation
from simulator.schedule.run import run
from simulator.schedule.steps import DecodeSteps, decode_step
from tests.simulator.test_config import HW
from tests.simulator.test_golden import fast_workload, random_case, random_hw, random_kv_budget
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.kv_budget import KVBudget
from workloads.presets import ModelShape
from workloads.workload import from_shape

TINY = ModelShape("tiny", 256, 512, 8, 2, 2, 32)


def _from_scratch(w, hw, costs, context: int) -> tuple:
    r = run(decode_step(w, context), hw)
    return r.makespan, class_costs(r), _energy(r, costs)


def _same(got: tuple, ref: tuple) -> bool:
    energy = got[2] is None and ref[2] is None or np.array_equal(got[2], ref[2])
    return got[0] == ref[0] and got[1] == ref[1] and energy


def test_steps_equal_runs_from_scratch_on_random_cases():
    rng, mask_rng, kv_rng = np.random.default_rng(20261206), np.random.default_rng(6), np.random.default_rng(5)
    ran, channels, resumed_elsewhere = 0, 0, 0
    while ran < 60:
        try:
            hw = parse_hw(random_hw(rng), "steps")
        except InputError:
            continue
        shape, tokens, layers, _, _ = random_case(rng, mask_rng)
        w = fast_workload(shape, min(tokens, 3), layers)
        context = int(rng.integers(0, 30))
        w = dataclasses.replace(w, kv_budget=random_kv_budget(kv_rng, context))
        try:
            steps = DecodeSteps(w, hw, None, context)
        except InputError:  # a buffer too small for the smallest tile: run() refuses it too
            continue
        for c in (context, context + 1, context + 9, context + 70):  # the last outgrows the core's room
            assert _same(steps.step(c), _from_scratch(w, hw, None, c)), f"case {ran}, context {c}"
        channels += steps.n_ptr > 1
        resumed_elsewhere += int(steps.post_set[:, 1:].sum()) > 0
        ran += 1
    assert channels >= 10 and resumed_elsewhere >= 5  # post segments memoized at other channels than 0


@pytest.mark.parametrize("config", ["edge.yaml", "vitcod.yaml", "gpu-a100-like.yaml", "datacenter.yaml",
                                    "sslc-table4.yaml"])
def test_steps_equal_runs_from_scratch_with_energy(config):
    hw = load_hw(HW / config)
    costs = resolve(hw)
    for budget, kv in ((Budget(0.5, None), None), (None, None), (Budget(0.5, None), KVBudget("window", 16, 4)),
                       (None, KVBudget("topk", k=20))):
        w = dataclasses.replace(from_shape(TINY, budget, "prefill", 2, 40), kv_budget=kv)
        steps = DecodeSteps(w, hw, costs, 40)
        for c in (40, 41, 57, 300):
            assert _same(steps.step(c), _from_scratch(w, hw, costs, c)), f"{config}, context {c}"
        if budget is None:  # a dense model's layers are one segment, scheduled once per step
            assert len(steps.pre.unique) == 1 and len(steps.post.unique) == 1


def test_steps_equal_runs_from_scratch_on_an_artifact(tmp_path):
    from tests.workloads.artifact_fixture import write_artifact
    from workloads.from_artifact import from_artifact

    write_artifact(tmp_path / "art")
    hw = load_hw(HW / "edge.yaml")
    costs = resolve(hw)
    for w in from_artifact(str(tmp_path / "art"), "prefill", 1, 16, None):
        steps = DecodeSteps(w, hw, costs, 16)
        for c in (16, 17, 90):
            assert _same(steps.step(c), _from_scratch(w, hw, costs, c))


def test_a_generation_is_its_steps_from_scratch():
    """Every step's cycles, class shares, KV bytes and energy, exactly (not approximately)."""
    hw = load_hw(HW / "vitcod.yaml")
    costs = resolve(hw)
    comp, dense = (from_shape(TINY, b, "prefill", 1, 24) for b in (Budget(0.5, None), None))
    res = simulate_generation(comp, dense, hw, 5)
    for name, w in (("compressed", comp), ("dense", dense)):
        g = res[name]
        ref = [_from_scratch(w, hw, costs, 24 + i) for i in range(5)]
        assert g["step_cycles"] == [float(r[0]) for r in ref]
        assert g["energy"]["step_pj"] == [float(sum(r[2])) for r in ref]  # summed over components as generation sums them
        kv = run(w.with_scope("layer"), hw)
        assert g["kv_cache_bytes"] == class_costs(kv)["kv_cache"]["dram_bytes"] + sum(
            r[1]["kv_cache"]["dram_bytes"] for r in ref)


def test_a_prompts_attention_masks_shape_its_prefill_only():
    """Decode steps attend the KV cache (whole or under a budget), whatever map the prompt had."""
    w = from_shape(TINY, Budget(0.5, None), "prefill", 1, 8)
    masked = dataclasses.replace(w, attention_masks=lambda layer: np.ones((8, 8, 8), bool))
    hw = load_hw(HW / "edge.yaml")
    assert DecodeSteps(masked, hw, None, 8).step(9) == DecodeSteps(w, hw, None, 8).step(9)
