"""Energy of a schedule: its ops' action counts priced by the config's costs.

Per op and component, in pJ (costs.py says where each price comes from):
- mac: computed MACs x mac_pj (zeros of S's dense columns and masked attention scores are
  computed, so they cost; useful MACs are reported beside);
- idle_mac: (engine MACs x the op's compute cycles - computed MACs) x idle_mac_pj: slots an
  engine clocks without work (fill and drain, idle packed lanes, load imbalance);
- weight/input/output/index buffer: bits read x read pJ/bit + bits written x write pJ/bit;
  a buffer is written with what the op loads from DRAM (weights, indices, inputs) and the
  output buffer with results and partial sums (energy/actions.py);
- decode: index decodes x decode_pj + pointer decodes x pointer_decode_pj;
- vector: lane operations x the op's function's pJ (norm, softmax, act, residual);
- dram: the bytes the schedule moved (RunResult.op_dram) x 8 x pJ/bit, reads at the read
  price and write-backs at the write price (0 with ideal memory: dram null);
- static: leakage_mw x the run's time, per decoder layer in proportion to its span.
"""

from __future__ import annotations

import numpy as np

from simulator.energy import actions as A
from simulator.energy.costs import Costs

COMPONENTS = ("mac", "idle_mac", "weight_buffer", "input_buffer", "output_buffer", "index_buffer", "decode",
              "vector", "dram", "static")
DYNAMIC = COMPONENTS[:-1]
WRITEBACK = 3


def vector_function(proj: str, part: str) -> str | None:
    """The vector function of an op (costs.VECTOR_FUNCTIONS key), None for a non-vector op."""
    if part.startswith("softmax"):
        return "softmax"
    if part == "vec":
        return {"attn_norm": "norm", "ffn_norm": "norm", "act": "act"}.get(proj, "residual")
    return None


def op_energy(run, costs: Costs) -> np.ndarray:
    """(ops, len(DYNAMIC)) array of every op's dynamic energy by component, pJ."""
    prog = run.program
    n = len(prog.op_name)
    out = np.zeros((n, len(DYNAMIC)))
    if n == 0:
        return out
    act = np.asarray(prog.op_actions, dtype=np.float64).reshape(n, A.N_ACTIONS)
    idx_load = act[:, A.IDX_LOAD_BYTES] * 8
    w_load = (np.asarray(prog.op_weight_bytes, np.float64) * 8) - idx_load
    x_load = (np.asarray(prog.op_bytes, np.float64) - np.asarray(prog.op_weight_bytes, np.float64)) * 8
    r, w = costs.buffer_read_pj_per_bit, costs.buffer_write_pj_per_bit
    engine = np.asarray(prog.op_engine)
    slots = np.asarray(prog.op_engine_macs, np.float64) * run.op_busy
    idle = np.where(engine < 2, np.maximum(slots - act[:, A.COMPUTED_MACS], 0.0), 0.0)
    vec = np.array([costs.vector_pj.get(vector_function(p, q), 0.0) for p, q in zip(prog.op_proj, prog.op_part)])
    writeback = engine == WRITEBACK
    dram_bits = run.op_dram.astype(np.float64) * 8
    cols = {
        "mac": act[:, A.COMPUTED_MACS] * costs.mac_pj,
        "idle_mac": idle * costs.idle_mac_pj,
        "weight_buffer": act[:, A.W_READ_BITS] * r["weight"] + w_load * w["weight"],
        "input_buffer": act[:, A.X_READ_BITS] * r["input"] + x_load * w["input"],
        "output_buffer": act[:, A.OUT_READ_BITS] * r["output"] + act[:, A.OUT_WRITE_BITS] * w["output"],
        "index_buffer": act[:, A.IDX_READ_BITS] * r["index"] + idx_load * w["index"],
        "decode": act[:, A.DECODES] * costs.decode_pj + act[:, A.POINTER_DECODES] * costs.pointer_decode_pj,
        "vector": act[:, A.VECTOR_LANE_OPS] * vec,
        "dram": np.where(writeback, dram_bits * costs.dram_write_pj_per_bit, dram_bits * costs.dram_read_pj_per_bit),
    }
    for j, k in enumerate(DYNAMIC):
        out[:, j] = cols[k]
    return out


def static_pj(costs: Costs, cycles: int, clock_mhz: float) -> float:
    """Leakage over `cycles`: leakage_mw x cycles / clock, in pJ (mW x us = nJ = 1000 pJ)."""
    return costs.leakage_mw * cycles / clock_mhz * 1e3


def dram_bytes_by_operand(run) -> dict[str, int]:
    """Bytes the schedule moved per operand: weights (W, S values, U, V), indices, inputs,
    K/V cache reads (the attention core's stationary operand), outputs and K/V cache writes."""
    prog = run.program
    out = {k: 0 for k in ("weights", "indices", "inputs", "kv_cache_read", "outputs", "kv_cache_write")}
    if run.hw.dram is None:
        return out
    layer_scope = run.workload.scope == "layer"
    for o, (proj, eng) in enumerate(zip(prog.op_proj, prog.op_engine)):
        if eng == WRITEBACK:
            kv = layer_scope and proj in ("k_proj", "v_proj")
            out["kv_cache_write" if kv else "outputs"] += int(prog.op_wb_bytes[o])
            continue
        idx = int(prog.op_actions[o][A.IDX_LOAD_BYTES])
        wgt = int(prog.op_weight_bytes[o]) - idx
        out["kv_cache_read" if proj == "attn_core" else "weights"] += wgt
        out["indices"] += idx
        out["inputs"] += int(prog.op_bytes[o]) - int(prog.op_weight_bytes[o])
    return out
