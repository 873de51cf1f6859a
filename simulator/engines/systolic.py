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
def mac_lines_tile_cycles(W: int, H: int, latency: int, M: int, K: int, N: int) -> int:
    """ViTCoD-style array of W lines x H MACs, each line an inner product with an adder tree.

    Each of the M x N outputs goes to one line and takes ceil(K / H) cycles; the lines work
    in parallel: ceil(M N / W) ceil(K / H) + latency cycles. A GEMV (M = 1) runs at full
    rate when N is a multiple of W and K of H.
    """
    return ceil_div(M * N, W) * ceil_div(K, H) + latency
