"""Tiles of the decoder-layer ops that are not projections: the attention core (Q K^T and
P V per KV-head group, on the denser engine, reading the KV cache from DRAM) and the
vector-unit ops (norms, softmax, SiLU x up, residual adds).

Attention core, per sequence of the batch and KV-head group (GQA: the group's query heads
share one K and V): Q K^T is a GEMM with T = group x queries rows, K = head_dim, N = keys,
whose stationary operand ("weights") is the K cache at precision.kv_bits; P V has T = group x
queries, K = keys, N = head_dim, with the V cache as weights. Decode: one query per sequence
attending context + 1 keys. Prefill (causal): queries in blocks of QUERY_BLOCK tokens, a
block attending the keys up to its last query; blocks above the diagonal are skipped,
masked entries inside a diagonal block are computed and discarded. Scores and
probabilities stay on chip (fused attention): softmax loads nothing, and P enters P V as
its activation operand. The sequences of a batch have their own caches, so an op's tiles
are one sequence's tiles repeated per sequence.

Vector ops: `elements` output elements in tiles of as many as the engine's input and output
slots hold, each loading its operand tensors (a residual add and SiLU x up read two) at
activation_bits; see engines/vector.py for the cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from simulator.engines.vector import vector_op_tiles
from simulator.memory.buffers import Slots
from simulator.tile_kernels import dense_op_tiles
from simulator.tile_shapes import _too_small, dense_tile_count, dense_tile_shape
from workloads.workload import Workload

QUERY_BLOCK = 64  # prefill: query tokens per causal block (FlashAttention-style row block)

# vector op -> (passes key of vector_unit, operand tensors loaded from DRAM)
VECTOR_OPS = {
    "attn_norm": ("norm_passes", 1),
    "ffn_norm": ("norm_passes", 1),
    "attn_residual": ("add_passes", 2),
    "ffn_residual": ("add_passes", 2),
    "act": ("silu_mul_passes", 2),
    "softmax": ("softmax_passes", 0),
}


@dataclass(frozen=True)
class Block:
    """One causal block of one sequence and group: GEMM rows (group x queries) and keys."""

    rows: int
    keys: int


def attention_blocks(w: Workload) -> list[Block]:
    """The query blocks of one sequence for one KV-head group."""
    m = w.model
    group = m.num_attention_heads // m.num_key_value_heads
    if w.phase == "decode":
        return [Block(group, w.context + 1)]
    return [Block(group * (min(w.seq, a + QUERY_BLOCK) - a), min(w.seq, a + QUERY_BLOCK))
            for a in range(0, w.seq, QUERY_BLOCK)]


def scores_per_group(w: Workload) -> int:
    """Kept scores of one KV-head group over the batch: decode group x (context + 1); prefill
    (causal) group x seq (seq + 1) / 2, per sequence."""
    m = w.model
    group = m.num_attention_heads // m.num_key_value_heads
    per_seq = group * (w.context + 1) if w.phase == "decode" else group * w.seq * (w.seq + 1) // 2
    return w.batch * per_seq


def kv_hw(hw: HardwareConfig) -> HardwareConfig:
    """`hw` with the K/V cache precision as the stationary operand's ("weight") precision."""
    return hw.model_copy(update={"precision": hw.precision.model_copy(update={"weight_bits": hw.precision.kv_bits})})


def attention_template(part: str, w: Workload, hw: HardwareConfig, slots: Slots, eng) -> tuple[np.ndarray, int, tuple]:
    """One sequence's tiles of `part` (qk or pv) for one group: a (3, n) array of bytes,
    cycles and weight (K/V cache) bytes; the useful MACs over the batch; a tile shape."""
    hk = kv_hw(hw)
    hd = w.model.head_dim
    gK, gN = eng.granularity
    pieces, shape = [], (0, 0, 0)
    for b in attention_blocks(w):
        K, N = (hd, b.keys) if part == "qk" else (b.keys, hd)
        sh = dense_tile_shape(hk, slots, b.rows, K, N, gK, gN, f"attention {part}")
        out = np.empty((3, dense_tile_count(sh, b.rows, K, N)), np.int64)
        n, _ = dense_op_tiles(b.rows, K, N, sh.nest, sh.tt, sh.tk, sh.tn, sh.block, sh.reuse_inputs,
                              hk.precision.weight_bits, hk.precision.activation_bits, eng.kind, eng.dataflow, eng.R,
                              eng.C, eng.physical, eng.latency, eng.quirk, eng.packing, out[0], out[1], out[2], 0)
        pieces.append(out[:, :n])
        shape = max(shape, sh.as_tuple())
    macs = scores_per_group(w) * hd
    return np.concatenate(pieces, axis=1), macs, shape


def vector_elements(proj: str, w: Workload) -> int:
    """Output elements of a vector op over the whole step."""
    m = w.model
    if proj == "softmax":
        return scores_per_group(w)
    width = m.intermediate_size if proj == "act" else m.hidden_size
    return w.tokens * width


def vector_tiles(proj: str, w: Workload, hw: HardwareConfig, slots: Slots, room) -> tuple[int, int]:
    """Writes a vector op's tiles through room(n) -> (bytes, cycles, weight bytes, offset)."""
    v, p = hw.vector_unit, hw.precision
    passes_key, inputs = VECTOR_OPS[proj]
    elements = vector_elements(proj, w)
    if slots.unlimited:
        per_tile = elements
    else:
        fit_in = slots.input // (inputs * p.activation_bits / 8) if inputs else elements
        per_tile = int(min(fit_in, slots.output // (p.output_bits / 8), elements))
        if per_tile < 1:
            raise _too_small(hw, "input_kib/output_kib", f"vector op {proj}")
    nb, cy, wb, off = room(math.ceil(elements / per_tile))
    return vector_op_tiles(elements, per_tile, inputs, p.activation_bits, getattr(v, passes_key), v.lanes,
                           v.latency, nb, cy, wb, off)


def writeback_bytes(proj: str, w: Workload, hw: HardwareConfig) -> int:
    """Bytes a non-projection op's result writes to DRAM."""
    m, p = w.model, hw.precision
    width = {"attn_core": m.q_dim, "act": m.intermediate_size}.get(proj, m.hidden_size)
    return math.ceil(w.tokens * width * p.output_bits / 8)
