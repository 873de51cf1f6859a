"""A whole generation: prefill of the prompt, then decode steps with the KV cache growing,
for a compressed model and its dense baseline on the same hardware.

Decode step i (i = 0 .. new_tokens - 1) attends prompt + i cached tokens plus its own.
Every step is a full schedule of the whole decoder stack (scope `layer`), exactly the one
simulating that step from scratch gives: the projections are tiled once and each step
tiles only its attention core and schedules only what its context can change
(schedule/steps.py, which also says why consecutive steps do not overlap).

Exact mode simulates every step. Sampled mode (`samples` = K) simulates K steps evenly
spaced over the generation, the first and last included, and takes every other step's
cycles and class costs by linear interpolation in the context length between the two
nearest simulated steps. Why that is close: the context changes only the attention core's
GEMMs, whose tiles and KV bytes grow linearly with the keys (up to tile rounding), so a
step's time is piecewise linear in the context. Under a KV budget (workloads/kv_budget.py)
the line bends where the keys first exceed the budget (a window stops growing, a top-k
selection starts), so sampled mode also simulates the two steps around that point.
tests/simulator/test_generation.py bounds the error against exact mode.

Energy (configs with a `technology` section): each simulated step's energy by component
(simulator/energy/account.py: its ops' dynamic energy plus leakage over its cycles) is taken
like its cycles (interpolated in sampled mode: the attention core's action counts and bytes
grow linearly with the context as its time does, and static energy is proportional to the
cycles); the generation's energy is the prefill's plus the sum of the steps'. Per generated
token: pJ/token and tokens/J over the whole generation (prefill included, as tokens_per_s),
and over the decode steps alone; average power = energy / time.
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np

from simulator.config import HardwareConfig
from simulator.energy.account import COMPONENTS, op_energy, static_pj
from simulator.energy.costs import Costs, resolve
from simulator.reports.op_classes import CLASSES, class_costs
from simulator.schedule.run import RunResult, run
from simulator.schedule.steps import DecodeSteps
from workloads.errors import InputError
from workloads.workload import MAX_SEQ, Workload

MAX_NEW_TOKENS = 1 << 16


def _energy(r: RunResult, costs: Costs | None) -> np.ndarray | None:
    """A run's energy by account.COMPONENTS (dynamic, then static), pJ; None without costs."""
    if costs is None:
        return None
    return np.append(op_energy(r, costs).sum(axis=0), static_pj(costs, r.makespan, r.hw.clock_mhz))


def _step(w: Workload, hw: HardwareConfig, costs: Costs | None = None) -> tuple[int, dict, np.ndarray | None]:
    r = run(w, hw)
    return r.makespan, class_costs(r), _energy(r, costs)


def step_indices(new_tokens: int, samples: int | None) -> list[int]:
    """The decode steps simulated: all, or `samples` evenly spaced ones (first and last included)."""
    if samples is None or samples >= new_tokens:
        return list(range(new_tokens))
    return sorted({int(round(x)) for x in np.linspace(0, new_tokens - 1, samples)})


def _interpolate(at: list[int], values: list[float], n: int) -> np.ndarray:
    return np.interp(np.arange(n), at, values)


def _decode_series(w: Workload, hw: HardwareConfig, prompt: int, n: int, samples: int | None,
                   progress=None, energy: Costs | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per decode step: cycles and each class's active cycles and the KV-cache bytes; with
    `energy` costs also each component's energy ("energy:<component>", pJ)."""
    at = step_indices(n, samples)
    if w.kv_budget is not None and samples is not None:  # the bend: the first step whose keys exceed the budget
        bend = w.kv_budget.budget - prompt
        at = sorted(set(at) | {i for i in (bend - 1, bend) if 0 <= i < n})
    cycles, per_class = [], {c: [] for c in (*CLASSES, "kv_cache")}
    if energy is not None:
        per_class.update({f"energy:{k}": [] for k in COMPONENTS})
    steps = DecodeSteps(w, hw, energy, prompt + at[0])
    for i in at:
        c, costs, pj = steps.step(prompt + i)
        cycles.append(c)
        for k in CLASSES:
            per_class[k].append(costs[k]["active_share"] * c)
        per_class["kv_cache"].append(costs["kv_cache"]["dram_bytes"])
        for k, v in zip(COMPONENTS, pj if pj is not None else ()):
            per_class[f"energy:{k}"].append(float(v))
        if progress is not None:
            progress()
    return (_interpolate(at, cycles, n),
            {k: _interpolate(at, v, n) for k, v in per_class.items()})


def _summary(prefill: tuple[int, dict, np.ndarray | None], steps: np.ndarray, classes: dict, hw: HardwareConfig,
             batch: int) -> dict:
    hz = hw.clock_mhz * 1e6
    pre_cycles, pre_costs, pre_energy = prefill
    total = pre_cycles + float(steps.sum())
    per_token = steps / hz
    active = {k: (pre_costs[k]["active_share"] * pre_cycles + float(classes[k].sum())) / total for k in CLASSES}
    return {
        "prefill_cycles": pre_cycles,
        "time_to_first_token_s": pre_cycles / hz,
        "decode_cycles": float(steps.sum()),
        "per_token_latency_s": {"first": float(per_token[0]), "median": float(statistics.median(per_token)),
                                "last": float(per_token[-1])},
        "total_s": total / hz,
        "tokens_per_s": batch * len(steps) / (total / hz),
        "decode_tokens_per_s": batch * len(steps) / (float(steps.sum()) / hz),
        "active_share": active,
        "kv_cache_bytes": pre_costs["kv_cache"]["dram_bytes"] + float(classes["kv_cache"].sum()),
        "step_cycles": [float(x) for x in steps],
        **({"energy": _energy_summary(pre_energy, classes, batch * len(steps), total / hz)}
           if pre_energy is not None else {}),
    }


def _energy_summary(prefill: np.ndarray, classes: dict, tokens: int, seconds: float) -> dict:
    """The generation's energy (module docstring): prefill + every decode step, pJ, by
    component; per generated token; tokens per joule; average power in W."""
    steps = sum(classes[f"energy:{k}"] for k in COMPONENTS)
    decode = float(steps.sum())
    total = float(prefill.sum()) + decode
    return {
        "prefill_pj": float(prefill.sum()),
        "decode_pj": decode,
        "total_pj": total,
        "by_component_pj": {k: float(prefill[j] + classes[f"energy:{k}"].sum()) for j, k in enumerate(COMPONENTS)},
        "pj_per_token": total / tokens,
        "decode_pj_per_token": decode / tokens,
        "tokens_per_joule": tokens / (total * 1e-12) if total else 0.0,
        "decode_tokens_per_joule": tokens / (decode * 1e-12) if decode else 0.0,
        "average_power_w": total * 1e-12 / seconds if seconds else 0.0,
        "step_pj": [float(x) for x in steps],
    }


def check_generation(w: Workload, new_tokens: int, samples: int | None) -> None:
    if w.phase != "prefill":
        raise InputError("generate: the workloads must describe the prompt's prefill")
    if not 1 <= new_tokens <= MAX_NEW_TOKENS or w.seq + new_tokens > MAX_SEQ:
        raise InputError(f"--new-tokens {new_tokens}: expected 1..{MAX_NEW_TOKENS} with prompt + new tokens "
                         f"<= {MAX_SEQ}")
    if samples is not None and samples < 2:
        raise InputError(f"--samples {samples}: expected at least 2 (the first and the last step)")


def generation(w: Workload, hw: HardwareConfig, new_tokens: int, samples: int | None = None, progress=None) -> dict:
    """One model's generation: prefill of `w.seq` prompt tokens (batch w.batch), then
    `new_tokens` decode steps; samples None: every step exact (module docstring). With an
    `energy` entry where the config has a technology."""
    check_generation(w, new_tokens, samples)
    costs = resolve(hw)
    prefill = _step(dataclasses.replace(w, scope="layer", context=0), hw, costs)
    if progress is not None:
        progress()
    steps, classes = _decode_series(w, hw, w.seq, new_tokens, samples, progress, costs)
    return _summary(prefill, steps, classes, hw, w.batch)


def method(new_tokens: int, samples: int | None, kv_budget: bool = False) -> str:
    if samples is None or samples >= new_tokens:
        return "exact: every step simulated"
    bend = " (plus the two around the KV budget's bend)" if kv_budget else ""
    return (f"sampled: {len(step_indices(new_tokens, samples))} of {new_tokens} decode steps simulated{bend}, "
            "the others interpolated linearly in the context length")


def simulate_generation(comp: Workload, dense: Workload, hw: HardwareConfig, new_tokens: int,
                        samples: int | None = None, progress=None) -> dict:
    """`generation` of the compressed workload and its dense baseline, and the speedups."""
    check_generation(comp, new_tokens, samples)
    out = {name: generation(w, hw, new_tokens, samples, progress) for name, w in (("dense", dense),
                                                                                   ("compressed", comp))}
    d, c = out["dense"], out["compressed"]
    out["speedup"] = {"total": d["total_s"] / c["total_s"], "time_to_first_token": d["time_to_first_token_s"] /
                      c["time_to_first_token_s"], "decode": d["decode_cycles"] / c["decode_cycles"]}
    if "energy" in c:
        out["energy_gain"] = {"total": d["energy"]["total_pj"] / c["energy"]["total_pj"],
                              "decode": d["energy"]["decode_pj"] / c["energy"]["decode_pj"]}
        out["area_mm2"] = resolve(hw).total_area_mm2
    out["method"] = method(new_tokens, samples, comp.kv_budget is not None)
    out.update(model=comp.model.name, hardware=hw.name, prompt=comp.seq, new_tokens=new_tokens, batch=comp.batch,
               workload=comp.description)
    return out
