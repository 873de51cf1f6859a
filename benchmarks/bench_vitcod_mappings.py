"""What each mapping of vitcod.yaml contributes: the default job's real SSLC artifact
simulated on vitcod.yaml with the mapping changes of simulator 0.2.0 added one at a time.

    .venv/bin/python benchmarks/bench_vitcod_mappings.py .sslcsim-cache/artifacts/<smollm2 artifact>

Writes benchmarks/results/vitcod_mappings.md. The 0.1.0 row of the README's table comes
from the same artifact run with commit ca5b637's code and its vitcod.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from simulator.api import simulate_workloads  # noqa: E402
from simulator.config import parse_hw  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from workloads.from_artifact import from_artifact  # noqa: E402

ROUND_ROBIN_NNZ = {"sparser_engine.mapping": "nnz_parallel", "sparser_engine.assignment": "round_robin"}
VARIANTS = {
    "0.1.0 mappings (one output per line, nnz-parallel round-robin)": {**ROUND_ROBIN_NNZ, "denser_engine.packing": False},
    "+ packed MAC lines": ROUND_ROBIN_NNZ,
    "+ interleaved assignment": {"sparser_engine.mapping": "nnz_parallel"},
    "+ adaptive mapping (= vitcod.yaml)": {},
    "adaptive, round-robin rows": {"sparser_engine.assignment": "round_robin"},
    "token-parallel interleaved (ViTCoD's rule)": {"sparser_engine.mapping": "token_parallel"},
}


def variant(base: dict, over: dict) -> dict:
    d = yaml.safe_load(yaml.safe_dump(base))
    for key, value in over.items():
        section, name = key.split(".")
        d[section][name] = value
    return d


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("artifact")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vitcod_mappings.md"))
    args = ap.parse_args()
    base = yaml.safe_load((ROOT / "hwconfigs" / "vitcod.yaml").read_text())
    rows = []
    for name, over in VARIANTS.items():
        hw = parse_hw(variant(base, over), name)
        cells = []
        for phase, seq in (("decode", 1), ("prefill", 2048)):
            comp, dense = from_artifact(args.artifact, phase, 1, seq)
            r = simulate_workloads(comp, dense, hw)
            busy = {k: sum(r["modules"][m][k] for m in ("MHA", "FFN")) for k in ("sparse_cycles", "lowrank_cycles")}
            cells.append(f"{r['totals']['speedup']:.3f}x ({r['totals']['bound']}; sparse busy "
                         f"{busy['sparse_cycles']:,}, low-rank busy {busy['lowrank_cycles']:,})")
        rows.append(f"| {name} | {cells[0]} | {cells[1]} |")
        print(rows[-1], flush=True)
    text = "\n".join(["# vitcod.yaml mappings, one at a time (default job's SSLC artifact, SmolLM2-135M at 0.5)", "",
                      f"Command: `.venv/bin/python benchmarks/bench_vitcod_mappings.py {args.artifact}`", "",
                      "| mappings | decode speedup | prefill 2048 speedup |", "|---|---|---|", *rows, ""])
    atomic_write(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
