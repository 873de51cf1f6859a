"""A ViTCoD-style array of W MAC lines x H MACs, each line an inner product with an adder tree.

GEMM convention as the systolic array's: M tokens, K reduction, N outputs.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def outputs_per_step(H: int, K: int, packing: bool) -> int:
    """Outputs one line finishes per step when its reduction is short; dimensionless.

    packed: a line with more MACs than the reduction length K splits its adder tree into
    floor(H / K) segments, each reducing one output (max(1, floor(H / K))); the hardware cost
    is a tap (result register and mux) at every adder-tree level a segment can end on.
    one output (the naive line): 1.
    """
    if packing and K < H:
        return H // K
    return 1


@njit(cache=True)
def mac_lines_tile_cycles(W: int, H: int, latency: int, M: int, K: int, N: int, packing: bool) -> int:
    """Cycles of one GEMM tile: each output of the M x N needs ceil(K / H) steps of one line, a
    line finishes p = outputs_per_step(H, K) outputs per step and the W lines work in parallel:
    ceil(M N / (W p)) ceil(K / H) + latency. A GEMV (M = 1) runs at full rate when N is a
    multiple of W and K of H; a rank-r reduction (K = r < H) keeps p r of H MACs busy.
    """
    p = outputs_per_step(H, K, packing)
    return -(-(M * N) // (W * p)) * -(-K // H) + latency
