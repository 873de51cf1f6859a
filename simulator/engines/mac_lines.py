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


@njit(cache=True)
def mac_lines_tile_actions(W: int, H: int, M: int, K: int, N: int, packing: bool, wb: int, ab: int, ob: int,
                           red_first: bool) -> tuple[int, int, int, int, int]:
    """One tile's MACs and buffer traffic: (computed MACs, weight-buffer read bits, input-buffer
    read bits, output-buffer write bits, output-buffer read bits).

    Computed MACs: M K N. A line computing output (t, n) reads its K weights (no weight
    reuse across tokens in an inner-product line): M K N wb. One token's K inputs are
    broadcast to the W lines (p = outputs_per_step outputs each), so they are read once per
    group of W p outputs: M K ceil(N / (W p)) ab. The adder tree and the line's accumulator
    reduce the whole K in the line: each output is written once, M N ob, and a tile that is
    not its op's first along the reduction reads the earlier partial sum, M N ob.
    """
    p = outputs_per_step(H, K, packing)
    return (M * K * N, M * K * N * wb, M * K * (-(-N // (W * p))) * ab, M * N * ob,
            0 if red_first else M * N * ob)
