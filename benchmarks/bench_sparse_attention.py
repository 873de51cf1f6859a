"""Sparse weights, sparse attention and both, end to end (issue 22, item 2): one LLaMA-2-7B
decode step as whole decoder layers (all 32) on vitcod.yaml, at batch 1 and 16 and context
4096 and 16384, against the dense model with dense attention:

- SSLC 0.5: synthetic seeded masks at kept 0.5 (the CLI's default budget), dense attention;
- window: dense weights, a KV budget of the 1024 most recent keys + 4 attention sinks;
- top-k: dense weights, the 1024 highest-scoring keys per KV-head group (every key scored,
  selected on the vector unit, their V rows gathered);
- SSLC + window, SSLC + top-k.

    .venv/bin/python benchmarks/bench_sparse_attention.py [--out benchmarks/results/sparse_attention.md]

Writes each run's cycles, end-to-end speedup, energy gain, the attention core's active share
and the KV-cache DRAM bytes to a Markdown and a JSON file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine_info import cpu_model  # noqa: E402
from simulator import __version__  # noqa: E402
from simulator.config import load_hw  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from simulator.reports.summary import summarize  # noqa: E402
from simulator.schedule.run import run  # noqa: E402
from workloads.budget import Budget  # noqa: E402
from workloads.kv_budget import KVBudget  # noqa: E402
from workloads.presets import PRESETS  # noqa: E402
from workloads.workload import from_shape  # noqa: E402

STEPS = ((1, 4096), (1, 16384), (16, 4096), (16, 16384))  # batch, context
WINDOW, TOPK = KVBudget("window", window=1024, sinks=4), KVBudget("topk", k=1024)
RUNS = (("SSLC 0.5", True, None), ("window 1024 + 4", False, WINDOW), ("top-1024", False, TOPK),
        ("SSLC + window", True, WINDOW), ("SSLC + top-1024", True, TOPK))


def step(batch: int, context: int, sslc: bool, kv: KVBudget | None):
    w = from_shape(PRESETS["llama-2-7b"], Budget(0.5, None) if sslc else None, "decode", batch, 1, 0)
    return dataclasses.replace(w.with_scope("layer", context), kv_budget=kv)


def case(hw, batch: int, context: int) -> list[dict]:
    dense = run(step(batch, context, False, None), hw)
    out = []
    for label, sslc, kv in RUNS:
        r = summarize(run(step(batch, context, sslc, kv), hw), dense)
        t, e, cls = r["totals"], r.get("energy"), r["classes"]["compressed"]
        out.append({"batch": batch, "context": context, "run": label, "dense_cycles": t["dense_cycles"],
                    "cycles": t["total_cycles"], "speedup": t["speedup"],
                    "energy_gain": e["dense"]["pj_per_token"] / e["compressed"]["pj_per_token"] if e else None,
                    "attention_share": cls["attention_core"]["active_share"],
                    "dense_attention_share": r["classes"]["dense"]["attention_core"]["active_share"],
                    "kv_read_bytes": e["compressed"]["dram_bytes_by_operand"]["kv_cache_read"] if e else None,
                    "dense_kv_read_bytes": e["dense"]["dram_bytes_by_operand"]["kv_cache_read"] if e else None})
    return out


def table(cases: list[dict]) -> list[str]:
    """Speedup (energy gain) per step and run, the runs as columns."""
    head = "| batch | context | dense attention share | " + " | ".join(r[0] for r in RUNS) + " |"
    out = [head, "|---" * (3 + len(RUNS)) + "|"]
    for batch, context in STEPS:
        cs = [c for c in cases if (c["batch"], c["context"]) == (batch, context)]
        cells = [f"{c['speedup']:.2f}x ({c['energy_gain']:.2f}x)" for c in cs]
        out.append(f"| {batch} | {context} | {cs[0]['dense_attention_share']:.0%} | " + " | ".join(cells) + " |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sparse_attention.md"))
    args = ap.parse_args()
    hw = load_hw(ROOT / "hwconfigs" / "vitcod.yaml")
    load, t0 = os.getloadavg()[0], time.time()
    cases = [c for b, ctx in STEPS for c in case(hw, b, ctx)]
    head = ["# Sparse weights, sparse attention and both: LLaMA-2-7B decode on vitcod.yaml", "",
            f"Command: `.venv/bin/python benchmarks/bench_sparse_attention.py`; simulator {__version__}; "
            f"{cpu_model()}, load {load:.1f} at start, {time.time() - t0:.0f} s.", "",
            "One decode step, all 32 decoder layers (`--scope layer`), batch sequences each attending `context` "
            "cached tokens + its own. Baseline: dense weights, dense attention. Cells: end-to-end speedup "
            "(energy gain per token). SSLC 0.5 = synthetic masks at kept 0.5; window = 1024 recent keys + 4 "
            "attention sinks; top-1024 = the 1024 highest-scoring keys per KV-head group (every K row read and "
            "scored, selection on the vector unit, 1024 V rows gathered). `sslcsim simulate --scope layer "
            "--attention-sparsity window:1024+4|topk:1024 [--dense-weights]` gives each cell.", ""]
    body = table(cases) + ["", "Per run: cycles, attention-core active share and KV-cache bytes read:", "",
                           "| batch | context | run | cycles | dense cycles | attention share | KV read GB |",
                           "|---|---|---|---|---|---|---|"]
    body += [f"| {c['batch']} | {c['context']} | {c['run']} | {c['cycles']:,} | {c['dense_cycles']:,} | "
             f"{c['attention_share']:.0%} | {c['kv_read_bytes'] / 1e9:.3f} |" for c in cases]
    atomic_write(args.out, "\n".join(head + body) + "\n")
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps(cases, indent=1))
    print("\n".join(head + body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
