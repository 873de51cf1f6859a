"""The N:M sparse denser engine against unstructured S on the sparser engine (issue 22, item 3):
LLaMA-2-7B, decode (batch 1) and prefill 2048 (batch 1), the projections of all 32 layers, S
keeping 0.5 of every projection with no low-rank part and no preserved entries:

- unstructured (Wanda-like synthetic masks, seed 0) on the base config: the ViTCoD split,
  dense columns on the denser engine, the rest on the sparser engine;
- 2:4 on the base config: the same pattern without an N:M engine (on the sparser engine);
- 2:4 on the `-nm` config (the base config plus `denser_engine.nm_sparsity` 2:4): one GEMM
  over the compressed reduction on the denser engine.

    .venv/bin/python benchmarks/bench_nm.py [--family edge vitcod] [--out benchmarks/results/nm_engine.md]

Writes cycles, speedup over dense (the same config's dense model), sparse-part busy cycles,
DRAM bytes and energy per token (each config's technology) to a Markdown and a JSON file.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import __version__  # noqa: E402
from simulator.api import simulate_shape  # noqa: E402
from simulator.config import load_hw  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from workloads.budget import Budget  # noqa: E402
from workloads.presets import PRESETS  # noqa: E402

PHASES = (("decode", 1, 1), ("prefill", 1, 2048))  # phase, batch, seq
RUNS = (("unstructured 0.5", "unstructured", ""), ("2:4", "2:4", ""), ("2:4 on the N:M engine", "2:4", "-nm"))


def case(family: str, phase: str, batch: int, seq: int, label: str, pattern: str, suffix: str) -> dict:
    """One simulated row: the report's totals, sparse busy cycles and energy per token."""
    hw = load_hw(ROOT / "hwconfigs" / f"{family}{suffix}.yaml")
    r = simulate_shape(PRESETS["llama-2-7b"], hw, Budget(0.5, 0, 0.0, pattern=pattern), phase, batch, seq, 0)
    t, e = r["totals"], r.get("energy")
    sparse = sum(m["sparse_cycles"] for m in r["modules"].values())
    return {"config": hw.name, "phase": phase, "tokens": r["tokens"], "run": label, "dense_cycles": t["dense_cycles"],
            "total_cycles": t["total_cycles"], "speedup": t["speedup"], "sparse_busy_cycles": sparse,
            "dram_bytes": t["dram_bytes"], "dense_dram_bytes": t["dense_dram_bytes"], "bound": t["bound"],
            "dram_utilization": t["dram_bandwidth_utilization"],
            "uj_per_token": e["compressed"]["pj_per_token"] * 1e-6 if e else None,
            "dense_uj_per_token": e["dense"]["pj_per_token"] * 1e-6 if e else None}


def row(c: dict) -> str:
    uj = "" if c["uj_per_token"] is None else f"{c['uj_per_token']:,.1f} / {c['dense_uj_per_token']:,.1f}"
    return (f"| {c['config']} | {c['phase']} | {c['run']} | {c['dense_cycles']:,} | {c['total_cycles']:,} | "
            f"{c['speedup']:.2f}x | {c['sparse_busy_cycles']:,} | {c['dram_bytes'] / 1e9:.2f} | "
            f"{c['dram_utilization']:.0%} | {c['bound']} | {uj} |")


def reading(cases: list[dict]) -> list[str]:
    """Per config family and phase: the N:M engine's 2:4 against unstructured on the sparser engine."""
    out = ["", "## 2:4 on the N:M engine against unstructured on the sparser engine", ""]
    for f in dict.fromkeys(c["config"].removesuffix("-nm") for c in cases):
        for phase, _, _ in PHASES:
            un = next(c for c in cases if c["config"] == f and c["phase"] == phase and c["run"] == RUNS[0][0])
            nm = next(c for c in cases if c["config"] == f + "-nm" and c["phase"] == phase and c["run"] == RUNS[2][0])
            energy = ("" if un["uj_per_token"] is None else
                      f", energy per token x{nm['uj_per_token'] / un['uj_per_token']:.2f}")
            out.append(f"- {f} {phase}: cycles x{nm['total_cycles'] / un['total_cycles']:.2f} (speedup over dense "
                       f"{nm['speedup']:.2f}x against {un['speedup']:.2f}x), DRAM bytes "
                       f"x{nm['dram_bytes'] / un['dram_bytes']:.2f}{energy}; {nm['bound']} against {un['bound']}.")
    return out + ["", "Why, in the model's terms:",
                  "- edge's WS array streams one decode token per fold (2R + C - 1 cycles for R x C MACs): decode is "
                  "compute-bound on it, and 2:4 halves its folds exactly; unstructured S runs mostly on the sparser "
                  "lines, which take a GEMV at full rate, close to the DRAM's bandwidth.",
                  "- vitcod's MAC lines take a GEMV at full rate and decode is DRAM-bound there: 2:4 moves n/m of the "
                  "weights with 2 index bits each, against CSR's 8-bit index per kept value and its pointers.",
                  "- In prefill a MAC line reads each weight once per token (an inner-product line has no reuse "
                  "across tokens), while a token-parallel sparser line reads a kept value once per P tokens: on "
                  "vitcod the N:M engine's weight-buffer energy exceeds the sparser engine's.",
                  "- 2:4 without the N:M engine runs on the sparser engine: its columns are all equally dense (no "
                  "ViTCoD split), and every kept value carries a CSR index."]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", nargs="+", default=["edge", "vitcod"])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nm_engine.md"))
    args = ap.parse_args()
    t0 = time.time()
    cases = [case(f, *p, *r) for f in args.family for p in PHASES for r in RUNS]
    head = ["# N:M denser engine: LLaMA-2-7B, 2:4 against unstructured at kept 0.5", "",
            f"Command: `.venv/bin/python benchmarks/bench_nm.py --family {' '.join(args.family)}`; simulator "
            f"{__version__}; {platform.machine()}, {time.time() - t0:.0f} s.", "",
            "Projections of all 32 layers (`--scope projections`); decode = 1 token, prefill = 2048 tokens, batch 1. "
            "S keeps 0.5 of every projection (rank 0, nothing preserved): unstructured = synthetic Wanda-like masks; "
            "2:4 = every group of 4 input features keeps 2. Each config's own dense model is the baseline. "
            "sparse busy = compute cycles of the S ops (on whichever engine); energy in uJ per token, compressed / "
            "dense (the N:M multiplexers unpriced).", "",
            "| config | phase | S | dense cycles | cycles | speedup | sparse busy | DRAM GB | DRAM use | bound | "
            "uJ/token |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    body = [row(c) for c in cases] + reading(cases)
    atomic_write(args.out, "\n".join(head + body) + "\n")
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps(cases, indent=1))
    print("\n".join(head + body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
