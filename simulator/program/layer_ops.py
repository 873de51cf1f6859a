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

KV budget in decode (Workload.kv_budget, workloads/kv_budget.py), per sequence and group,
keys = context + 1, kept = budget.kept(keys), D = head_dim:
- window W + S sinks: qk and pv are the dense GEMMs above over the kept keys only (T =
  group, K = D, N = kept; T = group, K = kept, N = D), reading kept K and kept V rows at
  kv_bits; the rows lie in two contiguous runs of the cache, so there is no gather; the
  softmax runs over group x kept scores.
- top-k (k keys): qk scores every key as without a budget (an exact top-k needs them all);
  when keys > k the softmax op first selects: the vector unit passes over the group x keys
  scores `vector_unit.topk_passes` times (on chip, no DRAM bytes; the k indices it leaves
  stay on chip); the softmax then runs over group x kept scores, and pv is a dense GEMM over
  the kept V rows gathered into the weight buffer (the engine a designer would use: the
  gathered rows are packed, so P V is dense). Gather cost: kept x D x kv_bits / 8 bytes per
  group and sequence, which is the V bytes of a dense GEMM over kept keys: each row is D x
  kv_bits / 8 bytes (256 B at D = 128, fp16), a whole number of DRAM bursts, and this DRAM
  model (memory/dram.py) charges bytes at bandwidth with no row-buffer or burst penalty for
  scattered rows, so the gather costs those bytes' DRAM cycles and no more.
Useful MACs: group x keys x D for qk (scored keys) and group x kept x D for pv, per sequence.

Vector ops: `elements` output elements in tiles of as many as the engine's input and output
slots hold, each loading its operand tensors (a residual add and SiLU x up read two) at
activation_bits; see engines/vector.py for the cycles.

Attention-map masks (Workload.attention_masks; layer-scope prefill only): the attention core
runs per query head as ViTCoD runs it, on that head's (N, N) map, N = seq, shared by the
sequences of the batch; the mask alone says which scores exist (no causal blocks on top:
a causal model's mask is causal). The map is split like a projection's S (`head_masks`):
key columns with kept count > split.density_threshold x N are dense (ViTCoD's "global"
tokens, computed with their zeros), the rest sparse, in decreasing kept count (stable;
index order when the threshold is 1). Per head h, with gt dense and n_s sparse keys,
D = head_dim:
- qk_dense.h{h}: Q K_dense^T, a dense GEMM T = N queries, K = D, N = gt on the denser
  engine; weights = the gt K rows at kv_bits, inputs = Q at activation_bits.
- qk_sparse.h{h}: the SDDMM's sparse part on the sparser engine via sparse_op_tiles with S =
  the sparse columns of the map (m = N queries, n = n_s keys) and T = D: a kept score is a
  D-long dot product, token-parallel nnz ceil(D / P), non-zero-parallel ceil(nnz / P) D per
  line. S has no values (0 bits: only its indices or bitmask move); the input operand is
  the tile's K rows at kv_bits; the tile's Q rows (its tm queries x tt features at
  activation_bits) load with the first key block of each (feature tile, query block) and
  stay for the others, in the slot the tile shape sizes for its tm x tt outputs (the
  SDDMM's real outputs, the kept scores, stay on chip for the softmax).
- softmax.h{h}: the vector unit over the kept scores only (batch x kept elements).
- pv_dense.h{h}: P_dense V_dense, T = N, K = gt, N = D; weights = the gt V rows at kv_bits,
  inputs = those columns of P at activation_bits.
- pv_sparse.h{h}: sparse_op_tiles with S = the sparse part of P (values at activation_bits
  plus indices), m = N, n = n_s, T = D, X = the V rows at kv_bits.
Under split.policy shared_width each head splits the lines by its own dense ratio,
N gt / (N gt + sparse kept scores), as ViTCoD does per layer (program.build._shared_split). A
group's heads share K and V but each head's ops load the rows they read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from simulator.engines.sparser import ASSIGNMENTS, MAPPINGS
from simulator.energy.actions import N_ACTIONS, USEFUL_MACS
from simulator.engines.vector import vector_op_tiles
from simulator.memory.buffers import Slots
from simulator.program.kernels import dense_op_tiles, sparse_op_tiles
from simulator.program.shapes import buffer_too_small, dense_tile_count, dense_tile_shape, sparse_tile_shape
from workloads.errors import InputError
from workloads.masks import CsrMask, column_order
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
    "select": ("topk_passes", 0),
}


@dataclass(frozen=True)
class Block:
    """One causal block of one sequence and group: GEMM rows (group x queries) and keys."""

    rows: int
    keys: int


def decode_keys(w: Workload, part: str) -> int:
    """Keys per sequence and KV-head group that a decode step's `part` covers: every one of
    its context + 1 keys without a KV budget; with one (workloads/kv_budget.py), qk scores
    budget.scored(keys) of them (all for top-k, the kept ones for a window), softmax and pv
    the kept ones."""
    keys = w.context + 1
    if w.kv_budget is None:
        return keys
    return w.kv_budget.scored(keys) if part == "qk" else w.kv_budget.kept(keys)


def attention_blocks(w: Workload, part: str) -> list[Block]:
    """The query blocks of one sequence for one KV-head group (decode: one block over the
    keys `part` covers)."""
    m = w.model
    group = m.num_attention_heads // m.num_key_value_heads
    if w.phase == "decode":
        return [Block(group, decode_keys(w, part))]
    return [Block(group * (min(w.seq, a + QUERY_BLOCK) - a), min(w.seq, a + QUERY_BLOCK))
            for a in range(0, w.seq, QUERY_BLOCK)]


def scores_per_group(w: Workload, part: str = "softmax") -> int:
    """Scores of one KV-head group over the batch that `part` computes or uses: decode
    group x decode_keys(part); prefill (causal) group x seq (seq + 1) / 2, per sequence."""
    m = w.model
    group = m.num_attention_heads // m.num_key_value_heads
    per_seq = group * decode_keys(w, part) if w.phase == "decode" else group * w.seq * (w.seq + 1) // 2
    return w.batch * per_seq


def selected_scores(w: Workload) -> int:
    """Scores a decode step's top-k selection reads, over the batch, per KV-head group: group x
    (context + 1) per sequence when the budget selects (more keys than k), else 0. The
    selection runs on the vector unit, `vector_unit.topk_passes` passes per score, over
    scores already on chip (no DRAM bytes); its k indices stay on chip for the gather."""
    if w.phase != "decode" or w.kv_budget is None or not w.kv_budget.selects(w.context + 1):
        return 0
    m = w.model
    return w.batch * (m.num_attention_heads // m.num_key_value_heads) * (w.context + 1)


def with_bits(hw: HardwareConfig, weight_bits: int, activation_bits: int | None = None) -> HardwareConfig:
    """`hw` with other operand precisions (bits per element) for an attention-core op:
    the stationary/S-value operand's as weight_bits (0: an operand that moves no values),
    the streamed/input operand's as activation_bits (None: unchanged)."""
    bits = {"weight_bits": weight_bits}
    if activation_bits is not None:
        bits["activation_bits"] = activation_bits
    return hw.model_copy(update={"precision": hw.precision.model_copy(update=bits)})


def kv_hw(hw: HardwareConfig) -> HardwareConfig:
    """`hw` with the K/V cache precision as the stationary operand's ("weight") precision."""
    return with_bits(hw, hw.precision.kv_bits)


def _gemm_tiles(hk: HardwareConfig, slots: Slots, eng, T: int, K: int, N: int, label: str,
                act: np.ndarray) -> tuple[np.ndarray, tuple]:
    """A dense GEMM's tiles (T x K by K x N) on `eng` with hk's precisions: a (3, n) array
    of bytes, cycles and weight bytes, and the tile shape; its actions are added to `act`."""
    gK, gN = eng.granularity
    sh = dense_tile_shape(hk, slots, T, K, N, gK, gN, label)
    out = np.empty((3, dense_tile_count(sh, T, K, N)), np.int64)
    n, _ = dense_op_tiles(T, K, N, sh.nest, sh.tt, sh.tk, sh.tn, sh.block, sh.reuse_inputs, hk.precision.weight_bits,
                          hk.precision.activation_bits, hk.precision.output_bits, eng.kind, eng.dataflow, eng.R, eng.C,
                          eng.physical, eng.latency, eng.quirk, eng.packing, out[0], out[1], out[2], 0, act)
    return out[:, :n], sh.as_tuple()


def attention_template(part: str, w: Workload, hw: HardwareConfig, slots: Slots,
                       eng) -> tuple[np.ndarray, int, tuple, np.ndarray]:
    """One sequence's tiles of `part` (qk or pv) for one group: a (3, n) array of bytes,
    cycles and weight (K/V cache) bytes; the useful MACs over the batch; a tile shape; one
    sequence's actions (the masked entries of diagonal blocks are computed, not useful)."""
    hk = kv_hw(hw)
    hd = w.model.head_dim
    pieces, shape = [], (0, 0, 0)
    act = np.zeros(N_ACTIONS, np.int64)
    for b in attention_blocks(w, part):
        K, N = (hd, b.keys) if part == "qk" else (b.keys, hd)
        tiles, sh = _gemm_tiles(hk, slots, eng, b.rows, K, N, f"attention {part}", act)
        pieces.append(tiles)
        shape = max(shape, sh)
    macs = scores_per_group(w, part) * hd
    act[USEFUL_MACS] = macs // w.batch
    return np.concatenate(pieces, axis=1), macs, shape, act


# ---------------------------------------------------------------- attention-map masks


@dataclass(frozen=True)
class HeadMask:
    """One query head's attention map, split between the engines (module docstring)."""

    mask: np.ndarray  # (N, N) bool, [query, key], True = kept score
    dense: np.ndarray  # dense key columns, ascending
    order: np.ndarray  # sparse key columns in processing order (int64)
    csr: CsrMask  # the same map, for per-tile unit counts

    @property
    def kept(self) -> int:
        """Kept scores of the head (per sequence)."""
        return self.csr.nnz

    @property
    def nnz_sparse(self) -> int:
        """Kept scores in the sparse key columns."""
        return int(self.mask[:, self.order].sum())


def check_attention_masks(w: Workload) -> None:
    """Masks shape a layer-scope prefill's attention core; a decode step attends its whole
    KV cache (a projections-scope run has no attention core and ignores them)."""
    if w.attention_masks is not None and w.scope == "layer" and w.phase != "prefill":
        raise InputError(f"attention_masks: apply to prefill only, not to phase {w.phase} "
                         "(a decode step attends its KV cache densely)")


def head_masks(w: Workload, layer: int, threshold: float) -> list[HeadMask]:
    """Layer `layer`'s masks (checked: bool, (heads, seq, seq)), each head's split by
    `threshold`, the density above which a key column is dense."""
    arr = w.attention_masks(layer)
    want = (w.model.num_attention_heads, w.seq, w.seq)
    if not isinstance(arr, np.ndarray) or arr.dtype != np.bool_ or arr.shape != want:
        got = f"{arr.dtype} array of shape {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise InputError(f"attention_masks({layer}): expected a bool array of shape (heads, seq, seq) = {want}, "
                         f"got {got}")
    out = []
    for h in range(want[0]):
        mk = np.ascontiguousarray(arr[h])
        dense, order = column_order(mk.sum(axis=0), w.seq, threshold, threshold < 1.0)
        out.append(HeadMask(mk, dense, order.astype(np.int64), CsrMask.from_dense(mk)))
    return out


def masked_template(part: str, head: HeadMask, w: Workload, hw: HardwareConfig, slots: Slots, eng,
                    lines: int) -> tuple[np.ndarray, int, tuple, np.ndarray] | None:
    """One sequence's tiles of one head's `part` (qk_dense, qk_sparse, pv_dense, pv_sparse;
    module docstring): a (3, n) array of bytes, cycles and weight (+ index) bytes; the
    useful MACs over the batch; the tile shape; one sequence's actions. None when the part
    has no keys. `eng` is the denser engine as the split leaves it, `lines` the sparser
    engine's lines."""
    N, D, p = w.seq, w.model.head_dim, hw.precision
    label = f"attention {part}"
    act = np.zeros(N_ACTIONS, np.int64)
    if part.endswith("_dense"):
        gt = len(head.dense)
        if gt == 0:
            return None
        K, Nn = (D, gt) if part == "qk_dense" else (gt, D)
        tiles, shape = _gemm_tiles(kv_hw(hw), slots, eng, N, K, Nn, label, act)
        act[USEFUL_MACS] = int(head.mask[:, head.dense].sum()) * D  # kept scores of the dense key columns
        return tiles, N * gt * D * w.batch, shape, act
    n_sp = len(head.order)
    if n_sp == 0:
        return None
    e = hw.sparser_engine
    wb = 0 if part == "qk_sparse" else p.activation_bits  # SDDMM: S moves indices only; SpMM: P's values
    by_column = e.format == "csc"
    tt, tm, tk, reuse = sparse_tile_shape(with_bits(hw, wb, p.kv_bits), slots, D, N, n_sp, by_column, label)
    counts = head.csr.column_block_counts(tm) if by_column else head.csr.row_block_counts(head.order, tk)
    out = np.empty((3, -(-D // tt) * -(-N // tm) * -(-n_sp // tk)), np.int64)
    n, macs = sparse_op_tiles(counts, by_column, head.order, N, D, tt, tm, tk, reuse, wb, p.kv_bits, p.output_bits,
                              e.index_bits, e.pointer_bits, e.format == "bitmask", lines, e.macs_per_line,
                              MAPPINGS[e.mapping], e.unit_overhead, ASSIGNMENTS[e.assignment], e.pipeline_latency,
                              out[0], out[1], out[2], 0, act)
    if part == "qk_sparse":
        out[0] += _query_bytes(N, D, tt, tm, -(-n_sp // tk), p.activation_bits)
    return out[:, :n], int(macs) * w.batch, (tt, tm, tk), act


def _query_bytes(N: int, D: int, tt: int, tm: int, n_c: int, bits: int) -> np.ndarray:
    """Per sparse SDDMM tile (loop order: feature tile, query block, key block), the bytes of
    its Q rows: ceil(queries x features x bits / 8) at a (feature tile, query block)'s first
    key block, 0 at the others (the rows stay on chip across its key blocks)."""
    feats = np.minimum(tt, D - np.arange(0, D, tt))
    rows = np.minimum(tm, N - np.arange(0, N, tm))
    out = np.zeros((feats.size, rows.size, n_c), np.int64)
    out[:, :, 0] = (feats[:, None] * rows[None, :] * bits + 7) // 8
    return out.ravel()


def vector_elements(proj: str, w: Workload) -> int:
    """Output elements of a vector op over the whole step."""
    m = w.model
    if proj == "softmax":
        return scores_per_group(w)
    width = m.intermediate_size if proj == "act" else m.hidden_size
    return w.tokens * width


def vector_tiles(proj: str, w: Workload, hw: HardwareConfig, slots: Slots, room,
                 elements: int | None = None) -> tuple[int, int]:
    """Writes a vector op's tiles through room(n) -> (bytes, cycles, weight bytes, offset,
    the op's action counts); returns (tiles, 0 MACs). `elements` overrides vector_elements (a masked head's softmax
    runs over its kept scores only); 0 elements: no tiles."""
    v, p = hw.vector_unit, hw.precision
    passes_key, inputs = VECTOR_OPS[proj]
    elements = vector_elements(proj, w) if elements is None else elements
    if elements == 0:
        return 0, 0
    if slots.unlimited:
        per_tile = elements
    else:
        fit_in = slots.input // (inputs * p.activation_bits / 8) if inputs else elements
        per_tile = int(min(fit_in, slots.output // (p.output_bits / 8), elements))
        if per_tile < 1:
            raise buffer_too_small(hw, "input_kib/output_kib", f"vector op {proj}")
    nb, cy, wb, off, act = room(math.ceil(elements / per_tile))
    return vector_op_tiles(elements, per_tile, inputs, p.activation_bits, p.output_bits, getattr(v, passes_key),
                           v.lanes, v.latency, nb, cy, wb, off, act)


def writeback_bytes(proj: str, w: Workload, hw: HardwareConfig) -> int:
    """Bytes a non-projection op's result writes to DRAM."""
    m, p = w.model, hw.precision
    width = {"attn_core": m.q_dim, "act": m.intermediate_size}.get(proj, m.hidden_size)
    return math.ceil(w.tokens * width * p.output_bits / 8)
