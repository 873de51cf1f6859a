"""The SSLC paper's Table 5 on a GPU-like config: decode throughput of LLaMA-2-7B generating
1024 tokens at batch 1, dense and at 50/60/70 % unstructured sparsity.

"Sparsity s" is read two ways, both shown:
- sparse-only: S keeps 1 - s of every projection's weights, no low-rank part (what the
  paper's vLLM measurement ran: an unstructured-sparse model in a bitmask-style format);
- SSLC: the kept fraction 1 - s split between S and U V^T by the default rank rule (the
  low-rank part gets 1/8 of the budget), 1 % preserved.
The paper's tokens/s are for its GPU and software; the comparison is of speedups. Each row
also gives the bytes per weight the decode step moves for the projections, ours and the
one the paper's throughput implies if its runs were bound by the same bandwidth as its
dense run: 2 bytes x tokens/s dense / tokens/s sparse.
"""

from __future__ import annotations

import dataclasses

from simulator.config import HardwareConfig
from simulator.schedule.generation import generation, method
from simulator.reports.op_classes import class_costs
from simulator.schedule.run import run
from workloads.budget import Budget
from workloads.presets import PRESETS
from workloads.workload import Workload, from_shape

PAPER = {"dense": 53.79, 0.5: 72.12, 0.6: 77.87, 0.7: 89.87}  # tokens/s, LLaMA-2-7B (paper Table 5)
SPARSITIES = (0.5, 0.6, 0.7)
READINGS = {"sparse-only": lambda s: Budget(1 - s, 0, 0.0),
            "SSLC": lambda s: Budget(1 - s, None, 0.01)}


def _bytes_per_weight(w: Workload, hw: HardwareConfig, prompt: int) -> float:
    """Projection DRAM bytes of one decode step per projection weight."""
    step = dataclasses.replace(w, phase="decode", seq=1, scope="layer", context=prompt)
    params = sum(m * n for _, _, m, n in w.model.projections()) * w.model.num_layers
    return class_costs(run(step, hw))["projections"]["dram_bytes"] / params


def reproduce_table5(hw: HardwareConfig, prompt: int = 128, new_tokens: int = 1024, samples: int | None = 17,
                     seed: int = 0, progress=None) -> dict:
    """Our tokens/s and speedups beside the paper's, per reading and sparsity."""
    model = PRESETS["llama-2-7b"]
    dense_w = from_shape(model, None, "prefill", 1, prompt, seed)
    dense = generation(dense_w, hw, new_tokens, samples, progress)
    dense_bpw = _bytes_per_weight(dense_w, hw, prompt)
    rows = []
    for reading, budget_of in READINGS.items():
        for s in SPARSITIES:
            w = from_shape(model, budget_of(s), "prefill", 1, prompt, seed)
            g = generation(w, hw, new_tokens, samples, progress)
            speedup = g["tokens_per_s"] / dense["tokens_per_s"]
            paper = PAPER[s] / PAPER["dense"]
            rows.append({"reading": reading, "sparsity": s, "tokens_per_s": g["tokens_per_s"], "speedup": speedup,
                         "paper_tokens_per_s": PAPER[s], "paper_speedup": paper,
                         "error_pct": 100 * (speedup / paper - 1), "bytes_per_weight": _bytes_per_weight(w, hw, prompt),
                         "paper_implied_bytes_per_weight": dense_bpw * PAPER["dense"] / PAPER[s]})
    return {"model": model.name, "hardware": hw.name, "prompt": prompt, "new_tokens": new_tokens, "batch": 1,
            "method": method(new_tokens, samples), "dense_tokens_per_s": dense["tokens_per_s"],
            "paper_dense_tokens_per_s": PAPER["dense"], "dense_bytes_per_weight": dense_bpw, "rows": rows}
