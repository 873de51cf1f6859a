"""Tile shapes from buffer sizes: each engine's share of every buffer, split into slots, and the
largest tile of an op that fits them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from workloads.errors import InputError


def _fit(limit: float, per: float) -> int:
    return int(limit // per) if per > 0 else 1 << 40


@dataclass(frozen=True)
class Slots:
    weight: float
    input: float
    output: float
    index: float
    unlimited: bool


def buffer_slots(hw: HardwareConfig, whole: bool) -> Slots:
    if hw.buffers is None:
        return Slots(0, 0, 0, 0, True)
    b = hw.buffers
    slots = 2 if b.double_buffering else 1
    k = 1024.0 / ((1 if whole else 2) * slots)
    # only the sparser engine reads indices: the index buffer is all its own
    return Slots(b.weight_kib * k, b.input_kib * k, b.output_kib * k, b.index_kib * 1024.0 / slots, False)


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


def dense_tile_shape(hw: HardwareConfig, s: Slots, T: int, K: int, N: int, gK: int, gN: int, op: str) -> tuple[int, int, int, bool]:
    shape = _dense_tile_shape(hw, s, T, K, N, gK, gN)
    if shape is None:
        raise _too_small(hw, "weight_kib/input_kib/output_kib", op)
    return shape


@functools.lru_cache(maxsize=4096)
def _dense_tile_shape(hw: HardwareConfig, s: Slots, T: int, K: int, N: int, gK: int, gN: int) -> tuple[int, int, int, bool] | None:
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


def sparse_tile_shape(hw: HardwareConfig, s: Slots, T: int, m: int, n_sp: int, by_column: bool, op: str) -> tuple[int, int, int, bool]:
    shape = _sparse_tile_shape(hw, s, T, m, n_sp, by_column)
    if shape is None:
        raise _too_small(hw, "weight_kib/index_kib/input_kib/output_kib", op)
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
