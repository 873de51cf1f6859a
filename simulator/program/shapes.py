"""Tile shapes from buffer sizes: each engine's share of every buffer, split into slots, and the
largest tile of an op that fits them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from simulator.engines.systolic import DATAFLOWS, systolic_head_tail
from simulator.memory.buffers import Slots
from workloads.errors import InputError


def _fit(limit: float, per: float) -> int:
    return int(limit // per) if per > 0 else 1 << 40


def buffer_too_small(hw: HardwareConfig, what: str, op: str) -> InputError:
    """The one-line error for a buffer that cannot hold an op's smallest tile (`what`: the keys)."""
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


# Loop nests of a dense GEMM (T tokens, K reduction, N outputs), outer to inner; the
# innermost loop is the dimension the array streams, so consecutive tiles keep the
# stationary operand. TNK: token tile, output tile, reduction tile (output stationary and
# MAC lines). NKT: token block, output tile, reduction tile, token tile (weight stationary:
# the partial sums of a token block stay in the output buffer across the reduction). TKN:
# output block, token tile, reduction tile, output tile (input stationary).
NEST_TNK, NEST_NKT, NEST_TKN = 0, 1, 2


@dataclass(frozen=True)
class DenseShape:
    """A dense GEMM's tiling: loop nest, tile extents, the streamed dimension's block (tokens
    per block for NKT, outputs per block for TKN, unused for TNK) and whether an input slice,
    once loaded, stays on chip for every later tile of its scope that uses it."""

    nest: int
    tt: int
    tk: int
    tn: int
    block: int
    reuse_inputs: bool

    def as_tuple(self) -> tuple[int, int, int]:
        return self.tt, self.tk, self.tn


def dense_tile_count(sh: DenseShape, T: int, K: int, N: int) -> int:
    """Tiles of a dense GEMM under its tiling (the streamed dimension's blocks may end in a
    partial tile each)."""
    n_t, n_k, n_n = -(-T // sh.tt), -(-K // sh.tk), -(-N // sh.tn)
    if sh.nest == NEST_NKT:
        full, rest = divmod(T, sh.block)
        return n_n * n_k * (full * -(-sh.block // sh.tt) + -(-rest // sh.tt))
    if sh.nest == NEST_TKN:
        full, rest = divmod(N, sh.block)
        return n_t * n_k * (full * -(-sh.block // sh.tn) + -(-rest // sh.tn))
    return n_t * n_n * n_k


def dense_tile_shape(hw: HardwareConfig, s: Slots, T: int, K: int, N: int, gK: int, gN: int, op: str) -> DenseShape:
    d = hw.denser_engine
    if d.kind == "systolic":
        shape = _systolic_tile_shape(hw, s, T, K, N)
    else:
        shape = _dense_tile_shape(hw, s, T, K, N, gK, gN)
    if shape is None:
        raise buffer_too_small(hw, "weight_kib/input_kib/output_kib", op)
    return shape


@functools.lru_cache(maxsize=4096)
def _dense_tile_shape(hw: HardwareConfig, s: Slots, T: int, K: int, N: int, gK: int, gN: int) -> DenseShape | None:
    """The MAC-line array's tiling (nest TNK).

    Picks the tile of largest volume tt tk tn (fewest tiles, least re-fetch) with
    weights tk tn, inputs tk tt and outputs tn tt each within their buffer slot; tk and tn
    are multiples of the array's granularity where the dimension allows.
    """
    if s.unlimited:
        return DenseShape(NEST_TNK, T, K, N, T, True)
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
    return DenseShape(NEST_TNK, tt, tk, tn, tt, K * tt * ab <= s.input)


@functools.lru_cache(maxsize=4096)
def _systolic_tile_shape(hw: HardwareConfig, s: Slots, T: int, K: int, N: int) -> DenseShape | None:
    """A systolic array's tiling: the nest of its dataflow, stationary extents in whole folds
    (multiples of R and C where the dimension allows), the streamed extent as long as the
    buffers allow (a multiple of the fold size where that dimension is folded).

    Among the shapes that fill the array, the shortest roofline estimate wins: max(DRAM
    cycles of the bytes it loads, its compute cycles), both in closed form below; then the
    fewest bytes, then the largest tile volume. WS and IS also choose their block: the streamed extent whose
    partial sums the output buffer holds across the reduction (one tile, or as many as fit).
    """
    R, C, df = hw.denser_engine.rows, hw.denser_engine.cols, hw.denser_engine.dataflow
    nest = {"os": NEST_TNK, "ws": NEST_NKT, "is": NEST_TKN}[df]
    if s.unlimited:
        return DenseShape(nest, T, K, N, T if nest == NEST_NKT else N, True)
    p = hw.precision
    wb, ab, ob = p.weight_bits / 8, p.activation_bits / 8, p.output_bits / 8
    best = None
    for cand in _systolic_candidates(s, nest, T, K, N, R, C, wb, ab, ob):
        tt, tk, tn, block = cand
        reuse = _reuse_inputs(s, nest, T, K, tt, block, ab)
        fills = {NEST_TNK: tt >= min(T, R) and tn >= min(N, C), NEST_NKT: tk >= min(K, R) and tn >= min(N, C),
                 NEST_TKN: tk >= min(K, R) and tt >= min(T, C)}[nest]
        w_bytes, x_bytes = _dram_bytes(nest, T, K, N, tt, tk, tn, block, reuse, wb, ab)
        busy = _compute_cycles_estimate(nest, hw, T, K, N, tt, tk, tn, block)
        key = (fills, -max(_dram_cycles_estimate(hw, w_bytes, x_bytes), busy), -(w_bytes + x_bytes),
               tt * tk * tn, block)
        if best is None or key > best[0]:
            best = (key, DenseShape(nest, tt, tk, tn, block, reuse))
    return None if best is None else best[1]


def _fold_candidates(dim: int, g: int) -> list[int]:
    """Extents along a folded dimension: whole folds (_candidates), and for buffers too small
    for one fold, halves, quarters, ... of a fold (the tiling key prefers whole folds)."""
    part, x = [], g // 2
    while x >= 1:
        if x < dim:
            part.append(x)
        x //= 2
    return sorted(set(_candidates(dim, g)) | set(part))


def _systolic_candidates(s: Slots, nest: int, T: int, K: int, N: int, R: int, C: int,
                         wb: float, ab: float, ob: float):
    """(tt, tk, tn, block) shapes whose weights, inputs and partial sums fit their slots."""
    if nest == NEST_TNK:  # OS: tokens folded by R, outputs by C, the reduction streams
        for tt in _fold_candidates(T, R):
            for tn in _fold_candidates(N, C):
                if tt * tn * ob > s.output:
                    continue
                tk = min(K, _fit(s.input, tt * ab), _fit(s.weight, tn * wb))
                if tk >= 1:
                    yield tt, tk, tn, tt
    elif nest == NEST_NKT:  # WS: reduction folded by R, outputs by C, tokens stream
        for tk in _fold_candidates(K, R):
            for tn in _fold_candidates(min(N, _fit(s.weight, tk * wb)), C):
                if tn < 1 or tn * tk * wb > s.weight:
                    continue
                tb = min(T, _fit(s.output, tn * ob))
                tt = min(tb, _fit(s.input, tk * ab))
                if tt >= 1:
                    yield tt, tk, tn, tt
                    if tb > tt:
                        yield tt, tk, tn, tb
    else:  # IS: reduction folded by R, tokens by C, outputs stream
        for tk in _fold_candidates(K, R):
            for tt in _fold_candidates(T, C):
                if tk * tt * ab > s.input:
                    continue
                nb = min(N, _fit(s.output, tt * ob))
                tn = min(nb, _fit(s.weight, tk * wb))
                if tn >= 1:
                    yield tt, tk, tn, tn
                    if nb > tn:
                        yield tt, tk, tn, nb


def _compute_cycles_estimate(nest: int, hw: HardwareConfig, T: int, K: int, N: int, tt: int, tk: int, tn: int,
                             block: int) -> int:
    """Compute cycles of a tiling (used only to choose one): every stationary tile's folds
    stream the whole streamed extent S; a run of single-fold tiles pays one head + tail per
    stream block, a multi-fold tile pays it per fold."""
    d = hw.denser_engine
    R, C = d.rows, d.cols
    n_t, n_k, n_n = -(-T // tt), -(-K // tk), -(-N // tn)
    if nest == NEST_TNK:
        n_stat, folds, S, ts, sb = n_t * n_n, -(-tt // R) * -(-tn // C), K, tk, K
    elif nest == NEST_NKT:
        n_stat, folds, S, ts, sb = n_k * n_n, -(-tk // R) * -(-tn // C), T, tt, block
    else:
        n_stat, folds, S, ts, sb = n_k * n_t, -(-tk // R) * -(-tt // C), N, tn, block
    head, tail = systolic_head_tail(DATAFLOWS[d.dataflow], R, C, d.timing == "physical")
    over = head + tail
    runs = n_stat * -(-S // sb)
    return n_stat * folds * S + runs * over * (1 if folds == 1 else folds * -(-sb // ts))


def _reuse_inputs(s: Slots, nest: int, T: int, K: int, tt: int, block: int, ab: float) -> bool:
    """Inputs stay on chip across their scope's output tiles (TNK: a token tile; NKT: a token
    block) or output blocks (TKN: the whole op) when the scope's K x tokens fit the input slot."""
    tokens = {NEST_TNK: tt, NEST_NKT: block, NEST_TKN: T}[nest]
    return K * tokens * ab <= s.input


def _dram_bytes(nest: int, T: int, K: int, N: int, tt: int, tk: int, tn: int, block: int, reuse: bool,
                wb: float, ab: float) -> tuple[float, float]:
    """(weight, input) bytes a tiling loads (used only to choose a tiling): weights once per token tile
    (TNK) or token block (NKT) or once (TKN, re-read per token tile when K N exceeds one
    tile); inputs once when reused, else once per output tile (TNK, NKT) or output block (TKN)."""
    n_n = -(-N // tn)
    if nest == NEST_TNK:
        w_loads = 1 if (tk >= K and tn >= N) else -(-T // tt)
        i_loads = 1 if reuse else n_n
    elif nest == NEST_NKT:
        w_loads = -(-T // block)
        i_loads = 1 if reuse else n_n
    else:
        w_loads = -(-T // tt) if (tk < K or tn < N) else 1
        i_loads = 1 if reuse else -(-N // block)
    return w_loads * K * N * wb, i_loads * T * K * ab


def _dram_cycles_estimate(hw: HardwareConfig, w_bytes: float, x_bytes: float) -> float:
    """Cycles the DRAM needs for these bytes at full bandwidth (0 without DRAM)."""
    d = hw.dram
    if d is None:
        return 0.0
    per_cycle = 1000.0 / hw.clock_mhz  # GB/s -> bytes per cycle: gbps * per_cycle
    if d.ports is not None:
        return max(w_bytes / (d.ports.weight_gbps * per_cycle), x_bytes / (d.ports.input_gbps * per_cycle))
    return (w_bytes + x_bytes) / (d.bandwidth_gbps * per_cycle)


def sparse_tile_shape(hw: HardwareConfig, s: Slots, T: int, m: int, n_sp: int, by_column: bool, op: str) -> tuple[int, int, int, bool]:
    shape = _sparse_tile_shape(hw, s, T, m, n_sp, by_column)
    if shape is None:
        raise buffer_too_small(hw, "weight_kib/index_kib/input_kib/output_kib", op)
    return shape


@functools.lru_cache(maxsize=4096)
def _sparse_tile_shape(hw: HardwareConfig, s: Slots, T: int, m: int, n_sp: int, by_column: bool) -> tuple[int, int, int, bool] | None:
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
