"""Back-to-back speed of two source trees of the simulator (issues 20 and 22): the same cases,
each run in a fresh process per tree, the trees alternating, on the same machine at the same
time, so both see the same load.

    git worktree add /tmp/base <commit>
    .venv/bin/python benchmarks/bench_speed_compare.py --base /tmp/base [--repeats 3] [--no-70b]

Cases: whole LLaMA-2-7B at ratio 0.5, rank 128 on vitcod.yaml, decode and prefill 2048 (the
`make bench` cases: compressed run, dense baseline and report, after JIT warm-up in the same
process); LLaMA-3-70B prefill 8192 as whole decoder layers (issue 22, bench_memory.py's case).
Each process also returns the simulated cycles, which must be equal between the trees.
Writes benchmarks/results/simulator_speed_compare.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine_info import cpu_model  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {tree!r})
from simulator.api import simulate_shape
from simulator.config import load_hw
from workloads.budget import Budget
from workloads.presets import PRESETS, ModelShape
hw = load_hw({hw!r})
case = {case!r}
if case == "70b":
    args = (ModelShape("llama-3-70b", 8192, 28672, 64, 8, 80, 128), hw, Budget(0.5, None), "prefill", 1, 8192, 0, None,
            "layer")
else:  # JIT warm-up on a small model, as make bench does
    for phase, seq in (("decode", 1), ("prefill", 64)):
        for scope in (("projections", "layer") if case == "warm-up" else ("projections",)):
            simulate_shape(PRESETS["smollm2-135m"], hw, Budget(0.5, 32), phase, 1, seq, layers=1, scope=scope)
    phase, seq = ("prefill", 2048) if case == "7b prefill 2048" else ("decode", 1)
    args = (PRESETS["llama-2-7b"], hw, Budget(0.5, 128), phase, 1, seq)
t = time.perf_counter()
r = simulate_shape(*args)
print(json.dumps({{"seconds": time.perf_counter() - t, "cycles": r["totals"]["total_cycles"],
                  "dense_cycles": r["totals"]["dense_cycles"]}}))
"""


def commit_of(tree: Path) -> str:
    """The tree's checked-out commit (short), with '+changes' when it has uncommitted edits."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=tree, capture_output=True,
                           text=True).stdout
    return head.strip() + ("+changes" if dirty.strip() else "")


def run_case(tree: Path, case: str) -> dict:
    """One fresh process of `tree` timing `case`: its seconds and simulated cycles."""
    code = CHILD.format(tree=str(tree), hw=str(ROOT / "hwconfigs" / "vitcod.yaml"), case=case)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(trees: dict[str, Path], cases: list[str], repeats: int) -> dict:
    """Per case and tree every run's seconds (trees alternating), their median and the cycles."""
    res: dict = {c: {k: {"seconds": [], "cycles": None} for k in trees} for c in cases}
    for tree in trees.values():  # fill each tree's on-disk JIT cache before anything is timed
        run_case(tree, "warm-up")
    for case in cases:
        for _ in range(repeats):
            for name, tree in trees.items():
                r = run_case(tree, case)
                slot = res[case][name]
                slot["seconds"].append(round(r["seconds"], 3))
                if slot["cycles"] is not None and slot["cycles"] != (r["cycles"], r["dense_cycles"]):
                    raise SystemExit(f"{case}: {name} gave different cycles from run to run")
                slot["cycles"] = (r["cycles"], r["dense_cycles"])
                print(f"{case} [{name}]: {r['seconds']:.2f} s", flush=True)
        for slot in res[case].values():
            slot["median_s"] = statistics.median(slot["seconds"])
    return res


def report(res: dict, trees: dict[str, Path], cmd: str, load: tuple[list, list]) -> list[str]:
    """The markdown lines of the comparison."""
    targets = {"7b decode": 2.0, "7b prefill 2048": 2.0, "70b": 60.0}
    labels = {"7b decode": "LLaMA-2-7B decode", "7b prefill 2048": "LLaMA-2-7B prefill 2048",
              "70b": "LLaMA-3-70B prefill 8192, whole layers"}
    lines = ["# Simulator speed: two trees back to back", "", f"Command: `{cmd}`  ",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}  ",
             "Trees: " + ", ".join(f"{k} = {commit_of(v)}" for k, v in trees.items()) + "  ",
             f"Load average (1/5/15 min) before {load[0]}, after {load[1]} (other jobs shared the 2 cores "
             "when it is above ~1).", "",
             "Each run is a fresh process (JIT from the on-disk cache; the 7B cases warm up on a small model "
             "first); the trees alternate run by run. SSLC 0.5 on `hwconfigs/vitcod.yaml`, batch 1; a time "
             "covers the compressed run, the dense baseline and the report.", "",
             "| case | base median (s) | new median (s) | speedup | base runs (s) | new runs (s) | target | cycles "
             "(compressed / dense) |", "|---|---|---|---|---|---|---|---|"]
    for case, r in res.items():
        b, n = r["base"], r["new"]
        same = "identical" if b["cycles"] == n["cycles"] else "DIFFER"
        ok = "met" if n["median_s"] < targets[case] else "NOT met"
        lines.append(f"| {labels[case]} | {b['median_s']:.2f} | {n['median_s']:.2f} | "
                     f"{b['median_s'] / n['median_s']:.2f}x | {', '.join(map(str, b['seconds']))} | "
                     f"{', '.join(map(str, n['seconds']))} | < {targets[case]:g} s: {ok} | "
                     f"{n['cycles'][0]:,} / {n['cycles'][1]:,} ({same}) |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True, help="the baseline source tree (a git worktree)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-70b", action="store_true", help="leave out the LLaMA-3-70B case (minutes per run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "simulator_speed_compare.md"))
    args = ap.parse_args()
    trees = {"base": Path(args.base).resolve(), "new": ROOT}
    cases = ["7b decode", "7b prefill 2048"] + ([] if args.no_70b else ["70b"])
    before = [round(x, 2) for x in os.getloadavg()]
    res = compare(trees, cases, args.repeats)
    after = [round(x, 2) for x in os.getloadavg()]
    cmd = ".venv/bin/python benchmarks/bench_speed_compare.py --base <worktree of the base commit>" + (
        f" --repeats {args.repeats}" if args.repeats != 3 else "") + (" --no-70b" if args.no_70b else "")
    atomic_write(args.out, "\n".join(report(res, trees, cmd, (before, after))))
    meta = {"command": cmd, "trees": {k: commit_of(v) for k, v in trees.items()}, "cpu": cpu_model(),
            "load_average": {"before": before, "after": after}}
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps({**meta, **res}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
