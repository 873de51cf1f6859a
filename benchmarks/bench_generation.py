"""Exact generation speed (issue 22, item 1): LLaMA-2-7B at SSLC 0.5 (default rank rule)
against dense on hwconfigs/vitcod.yaml, prompt 2048, 1024 new tokens, batch 1, every decode
step simulated exactly (`sslcsim generate` without --samples), after JIT warm-up.

    nice .venv/bin/python benchmarks/bench_generation.py [--repeats 3] [--new-tokens 1024]
        [--out benchmarks/results/generation_speed.md]

Also times the step-by-step path it replaces (each step tiled and scheduled from scratch,
schedule.run.run) on a few steps, and measures what the model's no-prefetch rule at layer
and step boundaries costs (schedule/steps.py): per boundary, the first weight-carrying tile's
load (its weight bytes over the DRAM bandwidth, plus the DRAM latency), which a design with
a free weight slot could start during the previous layer. tests/simulator/test_decode_steps.py
checks that the fast path equals the step-by-step one (cycles, class costs, energy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_simulator import machine  # noqa: E402
from simulator import __version__  # noqa: E402
from simulator.config import load_hw  # noqa: E402
from simulator.memory.dram import memory_spec  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from simulator.schedule.generation import _step, simulate_generation  # noqa: E402
from simulator.schedule.run import run  # noqa: E402
from simulator.schedule.steps import decode_step  # noqa: E402
from workloads.budget import Budget  # noqa: E402
from workloads.presets import resolve_model  # noqa: E402
from workloads.workload import from_shape  # noqa: E402

PROMPT = 2048


def pair(prompt: int, layers: int | None = None):
    model = resolve_model("llama-2-7b")
    return (from_shape(model, Budget(0.5, None), "prefill", 1, prompt, 0, layers),
            from_shape(model, None, "prefill", 1, prompt, 0, layers))


def step_by_step(hw, steps: int) -> dict:
    """Seconds per decode step when each is tiled and scheduled from scratch (median)."""
    out = {}
    for name, w in zip(("compressed", "dense"), pair(PROMPT)):
        times = []
        for i in range(steps):
            t = time.perf_counter()
            _step(decode_step(w, PROMPT + i), hw)
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


def boundary_loads(hw) -> dict:
    """Per model, one decode step at context PROMPT: the cycles of the first weight-carrying
    tile's load after each layer boundary (the step's start included: its weight bytes at
    the DRAM's rate plus its latency), summed, and their share of the step."""
    m = memory_spec(hw)
    out = {}
    for name, w in zip(("compressed", "dense"), pair(PROMPT)):
        r = run(decode_step(w, PROMPT), hw, record_tiles=True)
        ptr, wbytes = r.arrays["op_tile_ptr"], r.arrays["tile_weight_bytes"]
        cycles, seen = 0, set()
        for o, layer in enumerate(r.program.op_layer):
            tiles = wbytes[ptr[o]:ptr[o + 1]]
            if layer in seen or not (tiles > 0).any():
                continue
            seen.add(layer)
            first = int(tiles[tiles > 0][0])
            cycles += -(-first * int(m.num[0]) // int(m.den[0])) + m.latency
        out[name] = {"cycles": cycles, "step_cycles": r.makespan, "share": cycles / r.makespan}
    return out


def write(args, res: dict, walls: list[float], old: dict, loads: dict, load: tuple) -> None:
    """The results file (markdown) and its JSON beside it."""
    cmd = "nice .venv/bin/python benchmarks/bench_generation.py" + (
        f" --new-tokens {args.new_tokens}" if args.new_tokens != 1024 else "")
    med = statistics.median(walls)
    n = args.new_tokens
    proj = {k: v * n for k, v in old.items()}
    c, d = res["compressed"], res["dense"]
    lines = [
        "# Exact generation speed", "", f"Command: `{cmd}`  ",
        f"Machine: {machine()['cpu']}, {os.cpu_count()} cores (shared); simulator {__version__}, commit "
        f"{machine()['commit']}  ", f"Load average (1/5/15 min) before {load[0]}, after {load[1]}.", "",
        f"LLaMA-2-7B, SSLC 0.5 (default rank rule) and dense, `hwconfigs/vitcod.yaml`, prompt {PROMPT}, {n} new "
        f"tokens, batch 1, every decode step exact ({res['method']}): prefill and {n} steps of each model, after "
        "JIT warm-up.", "",
        "| | wall (s) |", "|---|---|",
        f"| whole generation, compressed and dense: median of {len(walls)} | **{med:.1f}** |",
        f"| runs | {', '.join(f'{x:.1f}' for x in walls)} |",
        f"| step by step from scratch (schedule.run.run per step): compressed, per step (median of 3) | "
        f"{old['compressed']:.3f} |",
        f"| step by step from scratch: dense, per step (median of 3) | {old['dense']:.3f} |",
        f"| step by step from scratch: {n} steps of both, projected | {proj['compressed'] + proj['dense']:.0f} |", "",
        "The result (identical to the step-by-step run: tests/simulator/test_decode_steps.py):", "",
        "| | dense | SSLC 0.5 | speedup |", "|---|---|---|---|",
        f"| time to first token (ms) | {d['time_to_first_token_s'] * 1e3:.2f} | {c['time_to_first_token_s'] * 1e3:.2f} "
        f"| {res['speedup']['time_to_first_token']:.3f}x |",
        f"| per-token latency, median (ms) | {d['per_token_latency_s']['median'] * 1e3:.3f} | "
        f"{c['per_token_latency_s']['median'] * 1e3:.3f} | |",
        f"| tokens/s (whole generation) | {d['tokens_per_s']:.3f} | {c['tokens_per_s']:.3f} | "
        f"{res['speedup']['total']:.3f}x |",
        f"| decode tokens/s | {d['decode_tokens_per_s']:.3f} | {c['decode_tokens_per_s']:.3f} | "
        f"{res['speedup']['decode']:.3f}x |",
    ]
    if "energy" in c:
        lines.append(f"| energy per token, whole generation (uJ) | {d['energy']['pj_per_token'] * 1e-6:.1f} | "
                     f"{c['energy']['pj_per_token'] * 1e-6:.1f} | {res['energy_gain']['total']:.3f}x (energy gain) |")
    lines += ["", "Steps do not overlap and no weights are prefetched across a layer or step boundary "
              "(simulator/schedule/steps.py). What that rule costs, one step at context "
              f"{PROMPT}: the first weight-carrying tile's load after each of the {resolve_model('llama-2-7b').num_layers} "
              "boundaries, summed:", "",
              "| model | boundary loads (cycles) | step (cycles) | share |", "|---|---|---|---|"]
    for name in ("dense", "compressed"):
        x = loads[name]
        lines.append(f"| {name} | {x['cycles']:,} | {x['step_cycles']:,} | {x['share']:.4%} |")
    atomic_write(args.out, "\n".join(lines) + "\n")
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps(
        {"command": cmd, "machine": machine(), "load_before": load[0], "load_after": load[1], "walls_s": walls,
         "median_s": med, "step_by_step_s_per_step": old, "boundary_loads": loads,
         "result": {k: v for k, v in res.items() if k not in ("dense", "compressed")},
         "summary": {name: {k: v for k, v in res[name].items() if k not in ("step_cycles", "energy")}
                     for name in ("dense", "compressed")}}, indent=1))
    print(f"wrote {args.out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=1024)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generation_speed.md"))
    args = ap.parse_args()
    hw = load_hw(ROOT / "hwconfigs" / "vitcod.yaml")
    load_before = os.getloadavg()
    simulate_generation(*pair(64, 2), hw, 4)  # JIT warm-up (compiles from the on-disk cache)
    walls, res = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = simulate_generation(*pair(PROMPT), hw, args.new_tokens)
        walls.append(time.perf_counter() - t)
        print(f"exact generation: {walls[-1]:.1f} s", flush=True)
    old = step_by_step(hw, 3)
    print(f"step by step: {old}", flush=True)
    loads = boundary_loads(hw)
    load = ([round(x, 2) for x in load_before], [round(x, 2) for x in os.getloadavg()])
    write(args, res, walls, old, loads, load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
