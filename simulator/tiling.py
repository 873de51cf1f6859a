"""From a workload and a hardware config to the flat tile program the scheduler runs.

Per projection (compressed): S is split by column density (ViTCoD): dense columns form a
dense GEMM on the denser engine (zeros included), the rest run on the sparser engine; V X
then U (V X) run on the denser engine; `out` writes the summed output. The dense baseline
has one dense GEMM W X per projection. Every buffer is split evenly between the two
engines (the whole buffer goes to the one array when it is time-multiplexed, and to the
dense baseline when the array is shared), except the index buffer, which only the sparser
engine reads; each engine's share is split into `slots`.

Loop order of every op: token tile (outer), output tile, reduction tile (inner). Inputs are
re-fetched for every output tile unless the whole reduction dimension of a token tile fits
in the input slot.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from simulator.config import HardwareConfig
from simulator.engines.sparser import ASSIGNMENTS, MAPPINGS, sparse_tile_cycles_pair
from simulator.engines.systolic import DATAFLOWS, mac_lines_tile_cycles, systolic_tile_cycles
from workloads.errors import InputError
from workloads.graph import op_graph, program_order
from workloads.masks import column_order
from workloads.workload import Projection, Workload

DENSER, SPARSER, WRITEBACK = 0, 1, 2


@dataclass
class Program:
    """Ops in program (topological) order and their tiles, as flat arrays."""

    op_name: list[str] = field(default_factory=list)
    op_layer: list[int] = field(default_factory=list)
    op_proj: list[str] = field(default_factory=list)
    op_module: list[str] = field(default_factory=list)
    op_part: list[str] = field(default_factory=list)  # S_dense S_sparse V U W out
    op_stream: list[int] = field(default_factory=list)
    op_engine: list[int] = field(default_factory=list)  # physical engine for utilization: 0/1, 2 none
    op_engine_macs: list[int] = field(default_factory=list)  # MACs per cycle of the engine running it
    op_deps: list[list[int]] = field(default_factory=list)
    op_wb_bytes: list[int] = field(default_factory=list)
    op_tile_shape: list[tuple[int, int, int]] = field(default_factory=list)
    tile_bytes: list[np.ndarray] = field(default_factory=list)
    tile_cycles: list[np.ndarray] = field(default_factory=list)
    op_macs: list[int] = field(default_factory=list)  # useful MACs
    tile_weight_bytes: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        n = len(self.op_name)
        dep_ptr = np.zeros(n + 1, np.int64)
        dep_ptr[1:] = np.cumsum([len(d) for d in self.op_deps])
        tile_ptr = np.zeros(n + 1, np.int64)
        tile_ptr[1:] = np.cumsum([len(t) for t in self.tile_cycles])
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731  (already int64)
        return {
            "op_stream": np.asarray(self.op_stream, np.int64),
            "op_dep_ptr": dep_ptr,
            "op_dep_idx": np.asarray([d for ds in self.op_deps for d in ds], np.int64),
            "op_wb_bytes": np.asarray(self.op_wb_bytes, np.int64),
            "op_tile_ptr": tile_ptr,
            "tile_bytes": cat(self.tile_bytes),
            "tile_cycles": cat(self.tile_cycles),
            "op_macs": np.asarray(self.op_macs, np.int64),
            "tile_weight_bytes": cat(self.tile_weight_bytes),
        }


# ---------------------------------------------------------------- tile kernels (numba)


@njit(cache=True)
def dense_op_tiles(T, K, N, tt, tk, tn, reuse_inputs, wb, ab, kind, dataflow, R, C, physical, latency, quirk):
    """Tiles of a dense GEMM (M = T tokens, K, N): per tile bytes, cycles, useful MACs, weight bytes.

    kind 0: systolic R x C with `dataflow`; kind 1: MAC lines (R = MACs per line, C = lines).
    quirk: subtract SCALE-Sim's trailing cycle once, from the op's first tile.
    """
    n_t = -(-T // tt)
    n_n = -(-N // tn)
    n_k = -(-K // tk)
    total = n_t * n_n * n_k
    nbytes = np.empty(total, np.int64)
    cycles = np.empty(total, np.int64)
    macs = np.empty(total, np.int64)
    wbytes = np.empty(total, np.int64)
    i = 0
    for a in range(n_t):
        mt = min(tt, T - a * tt)
        for b in range(n_n):
            nt = min(tn, N - b * tn)
            for c in range(n_k):
                kt = min(tk, K - c * tk)
                w = (kt * nt * wb + 7) // 8
                x = 0 if (reuse_inputs and b > 0) else (kt * mt * ab + 7) // 8
                if kind == 0:
                    cyc = systolic_tile_cycles(dataflow, R, C, mt, kt, nt, physical)
                else:
                    cyc = mac_lines_tile_cycles(C, R, latency, mt, kt, nt)
                nbytes[i] = w + x
                wbytes[i] = w
                cycles[i] = cyc
                macs[i] = mt * kt * nt
                i += 1
    if quirk and total > 0 and cycles[0] > 1:
        cycles[0] -= 1
    return nbytes, cycles, macs, wbytes


@njit(cache=True)
def sparse_op_tiles(counts, by_column, order, m, T, tt, tm, tk, reuse_inputs, wb, ab, ib, pb, bitmask,
                    L, P, mapping, overhead, policy, latency):
    """Tiles of the sparse GEMM on the sparser engine.

    counts: (row blocks, n) per-column counts when `by_column` (units = columns of S),
    else (column blocks, m) per-row counts over the sparse columns in `order` (units = rows).
    Loop order: token tile, row block (output tile), column block (reduction tile). A tile's
    weights and cycles depend on its token count only through mt, so each (row block,
    column block) is evaluated once per distinct mt (full token tiles and the last one).
    """
    n_sp = order.shape[0]
    n_t = -(-T // tt)
    n_r = -(-m // tm)
    n_c = -(-n_sp // tk)
    per = n_r * n_c
    total = n_t * per
    nbytes = np.empty(total, np.int64)
    cycles = np.empty(total, np.int64)
    macs = np.empty(total, np.int64)
    wbytes = np.empty(total, np.int64)
    nnz_rc = np.empty(per, np.int64)
    cyc_full = np.empty(per, np.int64)
    cyc_last = np.empty(per, np.int64)
    unit = np.empty(max(tm, tk), np.int64)
    scratch = np.empty(L, np.int64)
    ceil_p = np.empty(max(tm, tk) + 1, np.int64)
    for k in range(ceil_p.shape[0]):
        ceil_p[k] = -(-k // P)
    last_mt = T - (n_t - 1) * tt
    i = 0
    for r in range(n_r):
        rows = min(tm, m - r * tm)
        for c in range(n_c):
            cols = min(tk, n_sp - c * tk)
            nnz = 0
            if by_column:
                nu = cols
                for u in range(cols):
                    unit[u] = counts[r, order[c * tk + u]]
                    nnz += unit[u]
            else:
                nu = rows
                for u in range(rows):
                    unit[u] = counts[c, r * tm + u]
                    nnz += unit[u]
            if bitmask:
                idx_bytes = (rows * cols + 7) // 8
            else:
                idx_bytes = (nnz * ib + (nu + 1) * pb + 7) // 8
            nnz_rc[i] = nnz
            wbytes[i] = (nnz * wb + 7) // 8 + idx_bytes
            c_full, c_last = sparse_tile_cycles_pair(unit[:nu], tt, last_mt, L, P, mapping, overhead, policy,
                                                     latency, scratch, ceil_p)
            cyc_full[i] = max(c_full, 1)  # a tile takes at least its issue cycle
            cyc_last[i] = max(c_last, 1)
            i += 1
    i = 0
    for a in range(n_t):
        mt = min(tt, T - a * tt)
        j = 0
        for r in range(n_r):
            for c in range(n_c):
                cols = min(tk, n_sp - c * tk)
                w = wbytes[j]
                x = 0 if (reuse_inputs and r > 0) else (cols * mt * ab + 7) // 8
                nbytes[i] = w + x
                wbytes[i] = w
                cycles[i] = cyc_last[j] if a == n_t - 1 else cyc_full[j]
                macs[i] = nnz_rc[j] * mt
                i += 1
                j += 1
    return nbytes, cycles, macs, wbytes


# ---------------------------------------------------------------- tile sizing


def _fit(limit: float, per: float) -> int:
    return int(limit // per) if per > 0 else 1 << 40


@dataclass(frozen=True)
class _Slots:
    weight: float
    input: float
    output: float
    index: float
    unlimited: bool


def _slots(hw: HardwareConfig, whole: bool) -> _Slots:
    if hw.buffers is None:
        return _Slots(0, 0, 0, 0, True)
    b = hw.buffers
    slots = 2 if b.double_buffering else 1
    k = 1024.0 / ((1 if whole else 2) * slots)
    # only the sparser engine reads indices: the index buffer is all its own
    return _Slots(b.weight_kib * k, b.input_kib * k, b.output_kib * k, b.index_kib * 1024.0 / slots, False)


def _too_small(hw: HardwareConfig, what: str, op: str) -> InputError:
    return InputError(f"hwconfig '{hw.name}': buffers.{what} is too small for the smallest tile of {op}")


def _candidates(dim: int, g: int) -> list[int]:
    """Tile extents to try along one dimension: multiples of the granularity g up to dim
    (geometrically thinned past 64 candidates), plus dim itself."""
    if dim <= g:
        return [dim]
    out = sorted({min(dim, k * g) for k in range(1, dim // g + 1)} | {dim})
    if len(out) > 64:
        keep = sorted({int(round(x)) for x in np.geomspace(1, len(out), 64)})
        out = [out[i - 1] for i in keep]
    return out


def dense_tile_shape(hw: HardwareConfig, s: _Slots, T: int, K: int, N: int, gK: int, gN: int, op: str) -> tuple[int, int, int, bool]:
    shape = _dense_tile_shape(hw, s, T, K, N, gK, gN)
    if shape is None:
        raise _too_small(hw, "weight_kib/input_kib/output_kib", op)
    return shape


@functools.lru_cache(maxsize=4096)
def _dense_tile_shape(hw: HardwareConfig, s: _Slots, T: int, K: int, N: int, gK: int, gN: int) -> tuple[int, int, int, bool] | None:
    """(tt, tk, tn, reuse_inputs) of a dense GEMM (T tokens, K reduction, N outputs).

    Picks the tile of largest volume tt tk tn (fewest tiles, least re-fetch) with
    weights tk tn, inputs tk tt and outputs tn tt each within their buffer slot; tk and tn
    are multiples of the array's granularity where the dimension allows.
    """
    if s.unlimited:
        return T, K, N, True
    p = hw.precision
    wb, ab, ob = p.weight_bits / 8, p.activation_bits / 8, p.output_bits / 8
    best = None
    for tk in _candidates(K, gK):
        tn_max = min(N, _fit(s.weight, tk * wb))
        if tn_max < 1:
            break
        for tn in _candidates(tn_max, gN):
            if tn > tn_max:
                continue
            tt = min(T, _fit(s.input, tk * ab), _fit(s.output, tn * ob))
            if tt < 1:
                continue
            # tiles that fill the array's granularity first, then the largest volume
            key = (tk >= min(K, gK) and tn >= min(N, gN), tt * tk * tn, tk)
            if best is None or key > best[0]:
                best = (key, tt, tk, tn)
    if best is None:
        return None
    _, tt, tk, tn = best
    return tt, tk, tn, K * tt * ab <= s.input


def sparse_tile_shape(hw: HardwareConfig, s: _Slots, T: int, m: int, n_sp: int, by_column: bool, op: str) -> tuple[int, int, int, bool]:
    shape = _sparse_tile_shape(hw, s, T, m, n_sp, by_column)
    if shape is None:
        raise _too_small(hw, "weight_kib/index_kib/input_kib/output_kib", op)
    return shape


@functools.lru_cache(maxsize=4096)
def _sparse_tile_shape(hw: HardwareConfig, s: _Slots, T: int, m: int, n_sp: int, by_column: bool) -> tuple[int, int, int, bool] | None:
    """(tt, tm, tk, reuse_inputs) of the sparse GEMM (tm rows of S, tk sparse columns, tt tokens).

    Sized for the worst-case density of a sparse column (the split threshold) so every tile
    fits whatever the mask: values within the weight slot, indices and pointers (or the
    bitmask) within the index slot, inputs and outputs within theirs. Among shapes that
    give every line a unit where the dimension allows, the largest volume tm tk tt wins.
    Tile-local indices bound the indexed dimension by 2^index_bits.
    """
    e = hw.sparser_engine
    limit = 1 << e.index_bits
    if s.unlimited:
        tm, tk = m, n_sp
        if e.format == "csc":
            tm = min(tm, limit)
        elif e.format == "csr":
            tk = min(tk, limit)
        return T, tm, tk, True
    p = hw.precision
    wb, ab, ob = p.weight_bits / 8, p.activation_bits / 8, p.output_bits / 8
    dmax = min(1.0, hw.split.density_threshold)
    ib, pb = e.index_bits / 8, e.pointer_bits / 8
    units_dim, other_dim = (n_sp, m) if by_column else (m, n_sp)
    want_units = min(units_dim, e.lines)
    best = None
    for units in _candidates(units_dim, 1 if units_dim < 64 else 8):
        if e.format == "bitmask":
            other = min(_fit(s.weight, units * dmax * wb), _fit(s.index, units / 8))
        else:
            room = s.index - (units + 1) * pb
            other = min(_fit(s.weight, units * dmax * wb), _fit(room, units * dmax * ib) if room > 0 else 0)
        other = min(other_dim, other)
        if other < 1:
            continue
        tm, tk = (other, units) if by_column else (units, other)
        if e.format == "csc":
            tm = min(tm, limit)
        elif e.format == "csr":
            tk = min(tk, limit)
        tt = min(T, _fit(s.input, tk * ab), _fit(s.output, tm * ob))
        if tt < 1:
            continue
        key = (units >= want_units, tt * tm * tk, units)
        if best is None or key > best[0]:
            best = (key, tt, tm, tk)
    if best is None:
        return None
    _, tt, tm, tk = best
    return tt, tm, tk, n_sp * tt * ab <= s.input


# ---------------------------------------------------------------- engines seen by an op


@dataclass(frozen=True)
class _Dense:
    kind: int
    dataflow: int
    R: int
    C: int
    physical: bool
    latency: int
    quirk: bool

    @property
    def macs(self) -> int:
        return self.R * self.C

    @property
    def granularity(self) -> tuple[int, int]:
        # (K, N) granularity: systolic WS/IS fold K over rows; lines fold K over MACs per line
        return self.R, self.C


def _dense_engine(hw: HardwareConfig, lines: int | None = None) -> _Dense:
    d = hw.denser_engine
    if d.kind == "mac_lines":
        return _Dense(1, 0, d.rows, lines if lines is not None else d.cols, False, d.pipeline_latency, False)
    return _Dense(0, DATAFLOWS[d.dataflow], d.rows, d.cols, d.timing == "physical", 0, d.timing == "scalesim")


def _shared_split(hw: HardwareConfig, dense_macs: int, sparse_macs: int, has_sparse: bool) -> tuple[int, int]:
    """ViTCoD: dw = int(W x dense_ratio), sw = W - dw, with dense_ratio = dense MACs / all MACs;
    each engine keeps at least one line when it has work (ViTCoD's script crashes there)."""
    W = hw.denser_engine.cols
    total = dense_macs + sparse_macs
    dw = int(W * dense_macs / total) if total else W
    if dense_macs and dw == 0:
        dw = 1
    if has_sparse and dw == W:
        dw = W - 1
    return dw, W - dw


# ---------------------------------------------------------------- the program


@dataclass
class _SSplit:
    """The ViTCoD column split of one S and the unit statistics it leaves the sparser engine."""

    dense: np.ndarray  # columns computed densely on the denser engine
    order: np.ndarray  # sparse columns in processing order
    by_column: bool  # units are columns (CSC) or rows (CSR, bitmask)
    nnz_sparse: int
    mask: object
    blocks: np.ndarray | None  # column units: per (row block, column) counts at `block_tm`
    block_tm: int

    def unit_counts(self, tm: int, tk: int) -> np.ndarray:
        if self.by_column:
            return self.blocks if tm == self.block_tm else self.mask.column_block_counts(tm)
        return self.mask.row_block_counts(self.order, tk)


def split_S(q: Projection, hw: HardwareConfig, slots: _Slots, T: int) -> _SSplit:
    """Columns denser than the threshold go to the denser engine; the rest are reordered by
    non-zero count (when the threshold is below 1) for the sparser engine."""
    by_column = hw.sparser_engine.format == "csc"
    thr = hw.split.density_threshold
    blocks, tm = None, 0
    if by_column:  # realised column counts come from the same draws the tiles use
        _, tm, _, _ = sparse_tile_shape(hw, slots, T, q.m, q.n, True, f"L{q.layer}.{q.name}")
        blocks = q.mask.column_block_counts(tm)
        counts = blocks.sum(axis=0).astype(np.int64)
    else:
        counts = q.mask.column_counts()
    dense, order = column_order(counts, q.m, thr, thr < 1.0)
    return _SSplit(dense, order.astype(np.int64), by_column, int(counts[order].sum()), q.mask, blocks, tm)


def build_program(workload: Workload, hw: HardwareConfig) -> Program:
    """Tile every op of the workload for `hw`, one layer's projections in memory at a time."""
    prog = Program()
    T = workload.tokens
    p = hw.precision
    e = hw.sparser_engine
    policy = hw.split.policy
    sp_stream = DENSER if policy == "time_multiplexed" else SPARSER
    first = workload.layer_projections(0)
    dense_model = all(q.mask is None for q in first)
    slots = _slots(hw, policy == "time_multiplexed" or (dense_model and policy == "shared_width"))
    # ranks may differ per layer: a node with no work (rank 0, empty S) forwards its inputs
    parts = {q.name: ("W",) if q.mask is None else ("S", "V", "U") for q in first}
    graph = op_graph(workload.model.num_layers, [q.name for q in first], parts)
    # node -> the ops whose completion completes it (a node with no ops forwards its inputs)
    done_by: dict[str, list[int]] = {}
    projections: dict[str, Projection] = {q.name: q for q in first}
    splits: dict[str, _SSplit] = {}
    layer_loaded = 0

    def add_op(node: str, q: Projection, part: str, stream: int, engine: int, macs: int,
               tiles: tuple | None, shape: tuple[int, int, int], wb_bytes: int = 0) -> None:
        deps = inputs_done_by(node)
        if tiles is not None and len(tiles[1]) == 0:
            return
        empty = np.zeros(0, np.int64)
        b, c, mc, w = tiles if tiles is not None else (empty, empty, empty, empty)
        prog.op_name.append(f"L{q.layer}.{q.name}.{part}")
        prog.op_layer.append(q.layer)
        prog.op_proj.append(q.name)
        prog.op_module.append(q.module)
        prog.op_part.append(part)
        prog.op_stream.append(stream)
        prog.op_engine.append(engine)
        prog.op_engine_macs.append(macs)
        prog.op_deps.append(deps)
        prog.op_wb_bytes.append(wb_bytes)
        prog.op_tile_shape.append(shape)
        prog.tile_bytes.append(b)
        prog.tile_cycles.append(c)
        prog.op_macs.append(int(mc.sum()))
        prog.tile_weight_bytes.append(w)
        done_by[node].append(len(prog.op_name) - 1)

    def inputs_done_by(node: str) -> list[int]:
        return sorted({op for pred in graph.predecessors(node) for op in done_by[pred]})

    def dense_tiles(eng: _Dense, K: int, N: int, label: str) -> tuple[tuple, tuple[int, int, int]]:
        if K == 0 or N == 0:
            empty = np.zeros(0, np.int64)
            return (empty, empty, empty, empty), (0, 0, 0)
        gK, gN = eng.granularity
        tt, tk, tn, reuse = dense_tile_shape(hw, slots, T, K, N, gK, gN, label)
        t = dense_op_tiles(T, K, N, tt, tk, tn, reuse, p.weight_bits, p.activation_bits, eng.kind,
                           eng.dataflow, eng.R, eng.C, eng.physical, eng.latency, eng.quirk)
        return t, (tt, tk, tn)

    for node in program_order(graph):
        attrs = graph.nodes[node]
        layer, part = attrs["layer"], attrs["part"]
        if layer != layer_loaded:  # stream: one layer's projections (and masks) at a time
            projections = {q.name: q for q in workload.layer_projections(layer)}
            splits.clear()
            layer_loaded = layer
        q = projections[attrs["proj"]]
        label = f"L{layer}.{q.name}"
        done_by[node] = []
        if part == "out":
            add_op(node, q, "out", WRITEBACK, WRITEBACK, 0, None, (0, 0, 0), math.ceil(q.m * T * p.output_bits / 8))
            continue
        if part == "W":
            eng = _dense_engine(hw)
            t, shape = dense_tiles(eng, q.n, q.m, label)
            add_op(node, q, "W", DENSER, DENSER, eng.macs, t, shape)
            continue
        if q.name not in splits:
            splits[q.name] = split_S(q, hw, slots, T)
        sp = splits[q.name]
        dense_macs = q.m * len(sp.dense) + q.rank * (q.m + q.n)
        if policy == "shared_width":
            dw, sw = _shared_split(hw, dense_macs, sp.nnz_sparse, len(sp.order) > 0)
            deng = _dense_engine(hw, dw)
        else:
            sw, deng = e.lines, _dense_engine(hw)
        if part == "S":
            if len(sp.dense):
                t, shape = dense_tiles(deng, len(sp.dense), q.m, label + ".S_dense")
                add_op(node, q, "S_dense", DENSER, DENSER, deng.macs, t, shape)
            if len(sp.order):
                tt, tm, tk, reuse = sparse_tile_shape(hw, slots, T, q.m, len(sp.order), sp.by_column, label)
                t = sparse_op_tiles(sp.unit_counts(tm, tk), sp.by_column, sp.order, q.m, T, tt, tm, tk, reuse,
                                    p.weight_bits, p.activation_bits, e.index_bits, e.pointer_bits,
                                    e.format == "bitmask", sw, e.macs_per_line, MAPPINGS[e.mapping],
                                    e.unit_overhead, ASSIGNMENTS[e.assignment], e.pipeline_latency)
                add_op(node, q, "S_sparse", sp_stream, SPARSER, sw * e.macs_per_line, t, (tt, tm, tk))
        elif part == "V":
            t, shape = dense_tiles(deng, q.n, q.rank, label + ".V")
            add_op(node, q, "V", DENSER, DENSER, deng.macs, t, shape)
        elif part == "U":
            t, shape = dense_tiles(deng, q.rank, q.m, label + ".U")
            add_op(node, q, "U", DENSER, DENSER, deng.macs, t, shape)
        if not done_by[node]:  # no work here: forward the inputs' completion
            done_by[node] = inputs_done_by(node)
    return prog
