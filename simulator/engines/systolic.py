"""An R x C systolic array running one dense GEMM tile.

GEMM convention (SCALE-Sim's): ifmap M x K times filter K x N gives ofmap M x N. A linear
layer Y = W X with W (m x n) and X (n x T) maps to M = T tokens, K = n, N = m.
"""

from __future__ import annotations

from numba import njit

WS, OS, IS = 0, 1, 2
DATAFLOWS = {"ws": WS, "os": OS, "is": IS}


@njit(cache=True)
def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@njit(cache=True)
def systolic_folds(dataflow: int, R: int, C: int, M: int, K: int, N: int) -> int:
    """Number of folds (array-sized pieces) of the GEMM; dimensionless.

    OS: ceil(M/R) ceil(N/C); WS: ceil(K/R) ceil(N/C); IS: ceil(K/R) ceil(M/C).
    """
    if dataflow == OS:
        return ceil_div(M, R) * ceil_div(N, C)
    if dataflow == WS:
        return ceil_div(K, R) * ceil_div(N, C)
    return ceil_div(K, R) * ceil_div(M, C)


@njit(cache=True)
def systolic_fold_cycles(dataflow: int, R: int, C: int, M: int, K: int, N: int, physical: bool) -> int:
    """Cycles of one fold, in clock cycles.

    SCALE-Sim 3.0.0 (stall-free): OS R + C + K - 2; WS 2R + C + M - 2; IS 2R + C + N - 2
    (fill across R rows and C columns, stream the non-stationary operand, drain).
    Physical mode adds the R-cycle drain/preload of the stationary outputs that SCALE-Sim's
    OS formula omits: OS 2R + C + K - 2.
    """
    if dataflow == OS:
        return (2 * R if physical else R) + C + K - 2
    if dataflow == WS:
        return 2 * R + C + M - 2
    return 2 * R + C + N - 2


@njit(cache=True)
def systolic_tile_cycles(dataflow: int, R: int, C: int, M: int, K: int, N: int, physical: bool) -> int:
    """Compute cycles of one GEMM tile: folds x fold cycles (the SCALE-Sim trailing -1 is
    applied once per op by the tiler, not per tile)."""
    return systolic_folds(dataflow, R, C, M, K, N) * systolic_fold_cycles(dataflow, R, C, M, K, N, physical)


@njit(cache=True)
def systolic_head_tail(dataflow: int, R: int, C: int, physical: bool) -> tuple[int, int]:
    """A fold's cycles besides its streamed extent, in cycles, as (head, tail): the head comes
    before the first streamed element enters (WS/IS: R cycles to preload the stationary
    operand; OS: none), the tail after the last one entered (the skew across R rows and C
    columns, R + C - 2, plus in physical OS mode the R-cycle drain of the stationary outputs).
    head + streamed extent + tail = systolic_fold_cycles."""
    if dataflow == OS:
        return 0, R + C - 2 + (R if physical else 0)
    return R, R + C - 2


@njit(cache=True)
def systolic_stream_tile_cycles(dataflow: int, R: int, C: int, M: int, K: int, N: int, physical: bool,
                                first: bool, last: bool) -> int:
    """Compute cycles of one tile in a run of tiles along the streamed dimension (WS: tokens M,
    OS: reduction K, IS: outputs N) that share one stationary block.

    A single-fold tile continues its run's stream: it pays the head only when it is the run's
    first tile and the tail only when it is the last, so a run costs exactly one fold,
    head + sum of streamed extents + tail. A tile of several folds runs them one after the
    other, each a full fold: folds x (head + streamed extent + tail).
    """
    folds = systolic_folds(dataflow, R, C, M, K, N)
    head, tail = systolic_head_tail(dataflow, R, C, physical)
    stream = M if dataflow == WS else (K if dataflow == OS else N)
    if folds == 1:
        return (head if first else 0) + stream + (tail if last else 0)
    return folds * (head + stream + tail)


@njit(cache=True)
def systolic_tile_actions(dataflow: int, R: int, C: int, M: int, K: int, N: int, wb: int, ab: int, ob: int,
                          first: bool, last: bool, red_first: bool) -> tuple[int, int, int, int, int]:
    """One tile's MACs and buffer traffic: (computed MACs, weight-buffer read bits, input-buffer
    read bits, output-buffer write bits, output-buffer read bits).

    Computed MACs: M K N. The stationary operand is read once per fold into the array, the
    streamed one once per fold it passes, partial sums once per reduction fold:
    - WS (weights stationary, K folded by R, N by C): weights K N wb; inputs M K ceil(N/C) ab;
      output writes M N ceil(K/R) ob, reads M N (ceil(K/R) - 1) ob.
    - OS (outputs stationary, M folded by R, N by C): weights K N ceil(M/R) wb; inputs
      M K ceil(N/C) ab; outputs written once, M N ob.
    - IS (inputs stationary, K folded by R, M by C): inputs M K ab; weights K N ceil(M/C) wb;
      outputs as WS.
    A single-fold tile that continues its run's stream (not `first`) finds its stationary
    operand in the array (no read); in OS a tile whose stream continues (not `last`) keeps its
    outputs in the PEs (no write). A tile that is not its op's first along the reduction
    (`red_first` false) reads its outputs' earlier partial sums once, M N ob, unless the
    stream already holds them (OS).
    """
    single = systolic_folds(dataflow, R, C, M, K, N) == 1
    held = single and not first
    mn = M * N
    if dataflow == OS:
        w = K * N * ceil_div(M, R) * wb
        x = M * K * ceil_div(N, C) * ab
        o_w = 0 if (single and not last) else mn * ob
        o_r = 0 if (red_first or held) else mn * ob
        return M * K * N, w, x, o_w, o_r
    fk = ceil_div(K, R)
    if dataflow == WS:
        w = 0 if held else K * N * wb
        x = M * K * ceil_div(N, C) * ab
    else:
        x = 0 if held else M * K * ab
        w = K * N * ceil_div(M, C) * wb
    return M * K * N, w, x, mn * fk * ob, mn * (fk - 1) * ob + (0 if red_first else mn * ob)
