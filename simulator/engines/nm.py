"""N:M structured sparsity on the denser engine (a sparse tensor core): the rules that turn a
dense engine into one that runs N:M-structured weights at n/m of the dense MAC work.

Rule. Along the reduction K (a projection's input features) the weights fall in groups of m
consecutive positions; an N:M weight matrix keeps at most n of each group. The engine stores
each group as n slots (a kept weight, or a zero when the group keeps fewer), each with
`index_bits` of metadata naming its position in the group, and reduces over the slots only:
a GEMM of reduction K becomes one of reduction K' = n floor(K / m) + min(n, K mod m) (the
last group has only K mod m positions), i.e. ceil(K / m) n when m divides K or K mod m >= n.
The systolic array's rows (or the MAC line's H MACs) hold slots, not positions, so every tile
of the compressed GEMM times exactly as a dense tile of its compressed extent (the engines'
own rules); a 2:4 GEMM whose K is a multiple of 2 R (systolic WS/IS) or 2 H (MAC lines) takes
exactly half the dense MAC cycles.

Data. A slot moves and is read with its metadata: weight bits per slot wb + index_bits, in
DRAM and in the weight buffer. The input operand is not compressed: the slots of a group
select among its m inputs, so a tile loads the input positions of every group its slots
touch, and an engine reads, per chunk of slots it processes together (a fold of R rows in
WS/IS, the whole tile in OS, a step of H MACs on a MAC line), the positions of the groups
that chunk touches.

Multiplexers. Each MAC gets an m:1 multiplexer on its input operand, driven by its slot's
metadata (NVIDIA's 2:4 sparse tensor core: a 4:1 selector per multiplier). Its energy and
area are not priced (0): the technology tables carry no sourced multiplexer cost, and the
project prices nothing without a source; the metadata's DRAM bytes and buffer reads are.

SCALE-Sim 3.0.0's layer-wise N:M sparsity (topology column "N:M", OptimizedMapping false)
compresses the filter the same way (n slots per group of m along K, the last group
min(n, K mod m)) and times the compressed GEMM with its dense formulas: the `scalesim` timing
mode of an N:M engine reproduces its cycles (benchmarks/results/scalesim_sparse_reference.csv).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def nm_compressed_k(K: int, n: int, m: int) -> int:
    """Slots of a reduction of K positions under n:m: n floor(K / m) + min(n, K mod m)."""
    return n * (K // m) + min(n, K % m)


@njit(cache=True)
def nm_inputs(k0: int, kt: int, n: int, m: int, K: int) -> int:
    """Input positions the slots [k0, k0 + kt) select among: slot c is in group c // n, and the
    groups g0 = k0 // n .. g1 - 1 = ceil((k0 + kt) / n) - 1 span positions g0 m .. min(g1 m, K)."""
    if kt <= 0:
        return 0
    g0 = k0 // n
    g1 = -(-(k0 + kt) // n)
    return min(g1 * m, K) - g0 * m


@njit(cache=True)
def nm_chunk_inputs(k0: int, kt: int, chunk: int, n: int, m: int, K: int) -> int:
    """Input positions read by an engine that takes the slots [k0, k0 + kt) `chunk` at a time:
    the sum over chunks of nm_inputs (a group split between two chunks is read by both). When
    the chunks start on group boundaries no group is split, and the sum is nm_inputs of the
    whole range."""
    if k0 % n == 0 and chunk % n == 0:
        return nm_inputs(k0, kt, n, m, K)
    total = 0
    for c0 in range(0, kt, chunk):
        total += nm_inputs(k0 + c0, min(chunk, kt - c0), n, m, K)
    return total
