"""End-to-end against projections-only speedup of SSLC at 0.5 for LLaMA-2-7B decode, batch 1
and 16, context 512 / 4096 / 16384: how much the attention core and the KV cache (which
compression does not shrink) take back.

    .venv/bin/python benchmarks/bench_end_to_end.py [--hw hwconfigs/vitcod.yaml ...]

Writes benchmarks/results/end_to_end.md (one table per config, with the command).
"""

from __future__ import annotations

import argparse
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

CASES = [(b, c) for b in (1, 16) for c in (512, 4096, 16384)]


def table(hw_path: str) -> list[str]:
    hw = load_hw(hw_path)
    model, budget = PRESETS["llama-2-7b"], Budget(0.5, None)
    proj = simulate_shape(model, hw, budget, "decode", 1, 1)
    proj16 = simulate_shape(model, hw, budget, "decode", 16, 1)
    lines = [f"### {hw.name} (`{hw_path}`)", "",
             "| batch | context | projections-only speedup | end-to-end speedup | dense step (ms) | SSLC step (ms) | "
             "attention-core active share dense / SSLC | KV-cache share of DRAM bytes dense / SSLC |",
             "|---|---|---|---|---|---|---|---|"]
    for batch, ctx in CASES:
        r = simulate_shape(model, hw, budget, "decode", batch, 1, 0, None, "layer", ctx)
        p = proj if batch == 1 else proj16
        cd, cc = r["classes"]["dense"], r["classes"]["compressed"]
        lines.append(f"| {batch} | {ctx} | {p['totals']['speedup']:.2f}x | {r['totals']['speedup']:.2f}x | "
                     f"{r['totals']['dense_seconds'] * 1e3:,.2f} | {r['totals']['seconds'] * 1e3:,.2f} | "
                     f"{cd['attention_core']['active_share']:.0%} / {cc['attention_core']['active_share']:.0%} | "
                     f"{cd['kv_cache']['dram_share']:.0%} / {cc['kv_cache']['dram_share']:.0%} |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hw", nargs="+", default=["hwconfigs/vitcod.yaml", "hwconfigs/gpu-a100-like.yaml"])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "end_to_end.md"))
    args = ap.parse_args()
    t0 = time.time()
    body = [line for hw in args.hw for line in table(hw)]
    head = ["# End-to-end vs projections-only speedup: LLaMA-2-7B decode, SSLC at 0.5 (default rank rule)", "",
            f"Command: `.venv/bin/python benchmarks/bench_end_to_end.py --hw {' '.join(args.hw)}`; simulator "
            f"{__version__}; {platform.machine()}, {time.time() - t0:.0f} s.", "",
            "Projections-only: `sslcsim simulate --scope projections` (the linear layers). End-to-end: `--scope layer` "
            "(whole decoder layers: attention core per KV-head group reading the KV cache, norms, SiLU x up, residual "
            "adds, k/v written to the cache) with `--context` cached tokens. Active share: the fraction of the step "
            "during which attention-core ops run. Synthetic wanda-like masks, seed 0.", ""]
    atomic_write(args.out, "\n".join(head + body))
    print("\n".join(head + body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
