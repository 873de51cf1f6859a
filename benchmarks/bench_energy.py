"""Energy and area of SSLC against dense (issue 20): LLaMA-2-7B decode (batch 1) and prefill
2048 (batch 1), SSLC at 0.5 with the default rank rule (synthetic Wanda-like masks, seed 0),
projections and the whole decoder layer (attention core, KV cache, vector unit), on configs
with a technology section.

    .venv/bin/python benchmarks/bench_energy.py [--hw hwconfigs/vitcod.yaml ...] [--out ...]

Writes per case: energy per token with its breakdown by component, area, average power,
effective TOPS/W and tokens/s per mm^2, compressed beside dense, to a Markdown and a JSON file.
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
from simulator.energy.account import COMPONENTS  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from workloads.budget import Budget  # noqa: E402
from workloads.presets import PRESETS  # noqa: E402

CASES = (("decode", 1, 1, 2048), ("prefill", 1, 2048, 0))  # phase, batch, seq, context (decode)


def case(hw_path: str, phase: str, batch: int, seq: int, context: int) -> dict:
    hw = load_hw(hw_path)
    r = simulate_shape(PRESETS["llama-2-7b"], hw, Budget(ratio=0.5, rank=None, generator="wanda-like"), phase,
                       batch, seq, 0, None, "layer", context)
    e = r["energy"]
    return {"hw": Path(hw_path).name, "phase": phase, "batch": batch, "seq": seq, "context": context,
            "speedup": r["totals"]["speedup"], "energy_gain": e["energy_gain"],
            "compressed": {k: e["compressed"][k] for k in ("energy_pj", "pj_per_token", "tokens_per_joule",
                                                           "average_power_w", "effective_tops_per_w", "area_mm2",
                                                           "tokens_per_s_per_mm2", "seconds",
                                                           "dram_bytes_by_operand")},
            "dense": {k: e["dense"][k] for k in ("energy_pj", "pj_per_token", "tokens_per_joule", "average_power_w",
                                                 "effective_tops_per_w", "tokens_per_s_per_mm2", "seconds")},
            "overridden": e["costs"]["overridden"]}


def rows(c: dict) -> list[str]:
    """Two table rows (dense, SSLC) for one case: uJ/token, breakdown shares, power, TOPS/W, area, perf/mm^2."""
    out = []
    for which in ("dense", "compressed"):
        d = c[which]
        tot = d["energy_pj"]["total"]
        shares = " / ".join(f"{d['energy_pj'][k] / tot:.0%}" for k in COMPONENTS)
        out.append(f"| {c['hw']} | {c['phase']} | {'SSLC 0.5' if which == 'compressed' else 'dense'} | "
                   f"{d['pj_per_token'] / 1e6:,.2f} | {shares} | {d['average_power_w']:.2f} | "
                   f"{d['effective_tops_per_w']:.2f} | {c['compressed']['area_mm2']['total']:.1f} | "
                   f"{d['tokens_per_s_per_mm2']:,.2f} |")
    out.append(f"| | | **gain** | **{c['energy_gain']:.2f}x** (speedup {c['speedup']:.2f}x) | | | | | |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hw", nargs="+", default=["hwconfigs/vitcod.yaml", "hwconfigs/edge.yaml",
                                                "hwconfigs/datacenter.yaml"])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "energy_llama2.md"))
    args = ap.parse_args()
    t0 = time.time()
    cases = [case(h, *c) for h in args.hw for c in CASES]
    head = ["# Energy and area: LLaMA-2-7B, SSLC at 0.5 against dense", "",
            f"Command: `.venv/bin/python benchmarks/bench_energy.py --hw {' '.join(args.hw)}`; simulator "
            f"{__version__}; {platform.machine()}, {time.time() - t0:.0f} s.", "",
            "Whole decoder layers (`--scope layer`): decode = one token at batch 1 attending 2048 cached tokens; "
            "prefill = 2048 tokens at batch 1. SSLC at 0.5 with the default rank rule, synthetic Wanda-like masks, "
            "seed 0. Energy per token in uJ; breakdown = shares of " + " / ".join(COMPONENTS) + ". Power = average "
            "over the step; TOPS/W = 2 x useful MACs per joule; area of the design (the same for both); "
            "tokens/s/mm^2.", "",
            "| config | phase | model | uJ/token | breakdown | W | TOPS/W | mm^2 | tokens/s/mm^2 |",
            "|---|---|---|---|---|---|---|---|---|"]
    body = [line for c in cases for line in rows(c)]
    atomic_write(args.out, "\n".join(head + body) + "\n")
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps(cases, indent=1))
    print("\n".join(head + body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
