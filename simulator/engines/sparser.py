"""The sparser engine: L MAC lines x P MACs per line over a compressed sparse tile.

A tile is a list of units (columns of S for CSC, rows for CSR/bitmask) with their non-zero
counts. Units are assigned to lines by a policy; a line runs its units back to back, so
the tile takes as long as its slowest line plus the pipeline latency: load imbalance is
real and depends on the actual mask. The interleaved policy instead deals the tile's work
items (a non-zero token-parallel, a group of up to P non-zeros of one unit non-zero-parallel)
one per line round-robin across unit boundaries, as ViTCoD's sparser engine takes the next
kept element on each line; partial sums of one output then come from several lines and
meet in the output buffer.

An adaptive line runs each tile in whichever of the two mappings takes fewer cycles for it
(the choice is made offline: the mask and the token count are known when the tile is
compiled). Its hardware cost over a fixed mapping: each MAC's operand input gets a 2:1 mux
(one broadcast non-zero against P separate ones, and P separate tokens against one
broadcast token), and the adder tree gets a bypass to P per-MAC accumulators.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.energy.actions import (COMPUTED_MACS, DECODES, IDX_READ_BITS, OUT_READ_BITS, OUT_WRITE_BITS,
                                      POINTER_DECODES, USEFUL_MACS, W_READ_BITS, X_READ_BITS)

TOKEN_PARALLEL, NNZ_PARALLEL, ADAPTIVE = 0, 1, 2
MAPPINGS = {"token_parallel": TOKEN_PARALLEL, "nnz_parallel": NNZ_PARALLEL, "adaptive": ADAPTIVE}
ROUND_ROBIN, GREEDY, INTERLEAVED = 0, 1, 2
ASSIGNMENTS = {"round_robin": ROUND_ROBIN, "greedy": GREEDY, "interleaved": INTERLEAVED}


@njit(cache=True)
def unit_cycles(nnz: int, tokens: int, P: int, mapping: int, overhead: int) -> int:
    """Cycles one line spends on one unit (column or row) of nnz non-zeros, T tokens.

    token-parallel: the P MACs apply one non-zero to P tokens: nnz ceil(T / P) + overhead.
    non-zero-parallel: the P MACs take P non-zeros at once and reduce: ceil(nnz / P) T + overhead.
    """
    if mapping == TOKEN_PARALLEL:
        return nnz * (-(-tokens // P)) + overhead
    return (-(-nnz // P)) * tokens + overhead


@njit(cache=True)
def sparse_tile_cycles(
    counts: np.ndarray, tokens: int, L: int, P: int, mapping: int, overhead: int, policy: int, latency: int,
    load: np.ndarray,
) -> int:
    """Cycles of one sparse tile: for a fixed mapping the slowest line (below); adaptive: the
    fewer of the token-parallel and the non-zero-parallel tile cycles."""
    if mapping == ADAPTIVE:
        return min(_fixed_tile_cycles(counts, tokens, L, P, TOKEN_PARALLEL, overhead, policy, latency, load),
                   _fixed_tile_cycles(counts, tokens, L, P, NNZ_PARALLEL, overhead, policy, latency, load))
    return _fixed_tile_cycles(counts, tokens, L, P, mapping, overhead, policy, latency, load)


@njit(cache=True)
def _fixed_tile_cycles(
    counts: np.ndarray, tokens: int, L: int, P: int, mapping: int, overhead: int, policy: int, latency: int,
    load: np.ndarray,
) -> int:
    """Cycles of one sparse tile under one mapping: max over lines of the summed unit cycles + latency.

    round_robin: unit i goes to line i mod L. greedy: units in decreasing cost (stable) each
    go to the currently least-loaded line (lowest index on ties). interleaved: see
    `_interleaved_tile_cycles_pair`. `load` is scratch space of at least L entries.
    """
    if policy == INTERLEAVED:
        wrap = np.arange(L + (counts.max() if counts.shape[0] else 0) + 1) % L
        return _interleaved_tile_cycles_pair(counts, tokens, tokens, L, P, mapping, overhead, latency, load, wrap)[0]
    load[:L] = 0
    n = counts.shape[0]
    if policy == ROUND_ROBIN:
        for i in range(n):
            load[i % L] += unit_cycles(counts[i], tokens, P, mapping, overhead)
    else:
        cost = np.empty(n, dtype=np.int64)
        for i in range(n):
            cost[i] = unit_cycles(counts[i], tokens, P, mapping, overhead)
        order = np.argsort(-cost, kind="mergesort")
        for idx in range(n):
            best = 0
            for ln in range(1, L):
                if load[ln] < load[best]:
                    best = ln
            load[best] += cost[order[idx]]
    worst = 0
    for ln in range(L):
        if load[ln] > worst:
            worst = load[ln]
    return worst + latency


@njit(cache=True)
def sparse_tile_cycles_pair(
    counts: np.ndarray, t1: int, t2: int, L: int, P: int, mapping: int, overhead: int, policy: int, latency: int,
    load: np.ndarray, ceil_p: np.ndarray, wrap: np.ndarray,
) -> tuple[int, int]:
    """`sparse_tile_cycles` for two token counts t1, t2 of the same tile (full token tiles and
    the last one), each at least 1 (a tile takes its issue cycle), and the fixed mapping each
    runs: the configured one, or for an adaptive line the one with fewer cycles
    (token-parallel on a tie): (cycles t1, cycles t2, mapping t1, mapping t2).
    ceil_p[k] = ceil(k / P) for every count k in the tile; wrap[k] = k mod L for every
    k < L + the largest count; `load` is scratch space of at least 2 L entries."""
    if mapping != ADAPTIVE:
        c1, c2 = _fixed_tile_cycles_pair(counts, t1, t2, L, P, mapping, overhead, policy, latency, load, ceil_p, wrap)
        return max(c1, 1), max(c2, 1), mapping, mapping
    if policy == INTERLEAVED:
        a1, a2, b1, b2 = _interleaved_adaptive_pair(counts, t1, t2, L, P, overhead, latency, load, ceil_p, wrap)
    else:
        a1, a2 = _fixed_tile_cycles_pair(counts, t1, t2, L, P, TOKEN_PARALLEL, overhead, policy, latency, load, ceil_p,
                                         wrap)
        b1, b2 = _fixed_tile_cycles_pair(counts, t1, t2, L, P, NNZ_PARALLEL, overhead, policy, latency, load, ceil_p,
                                         wrap)
    a1, a2, b1, b2 = max(a1, 1), max(a2, 1), max(b1, 1), max(b2, 1)
    return (min(a1, b1), min(a2, b2), TOKEN_PARALLEL if a1 <= b1 else NNZ_PARALLEL,
            TOKEN_PARALLEL if a2 <= b2 else NNZ_PARALLEL)


@njit(cache=True)
def _fixed_tile_cycles_pair(
    counts: np.ndarray, t1: int, t2: int, L: int, P: int, mapping: int, overhead: int, policy: int, latency: int,
    load: np.ndarray, ceil_p: np.ndarray, wrap: np.ndarray,
) -> tuple[int, int]:
    """`sparse_tile_cycles` for two token counts t1, t2 of the same tile, in one pass when the
    assignment does not depend on the token count (round-robin: a line's load is A f(T) + B,
    linear in f(T) = T or ceil(T / P)). ceil_p and wrap as sparse_tile_cycles_pair takes them."""
    if policy == INTERLEAVED:
        return _interleaved_tile_cycles_pair(counts, t1, t2, L, P, mapping, overhead, latency, load, wrap)
    if policy != ROUND_ROBIN:
        return (_fixed_tile_cycles(counts, t1, L, P, mapping, overhead, policy, latency, load),
                _fixed_tile_cycles(counts, t2, L, P, mapping, overhead, policy, latency, load))
    n = counts.shape[0]
    acc = load[:L]
    acc[:] = 0
    ln = 0  # = i mod L, without a division per unit
    for i in range(n):
        acc[ln] += ceil_p[counts[i]] if mapping == NNZ_PARALLEL else counts[i]
        ln += 1
        if ln == L:
            ln = 0
    per_line = -(-n // L)  # units on line l: per_line or per_line - 1
    f1 = t1 if mapping == NNZ_PARALLEL else -(-t1 // P)
    f2 = t2 if mapping == NNZ_PARALLEL else -(-t2 // P)
    w1 = 0
    w2 = 0
    for ln in range(min(L, n)):
        units = per_line if ln < n - (per_line - 1) * L else per_line - 1
        c1 = acc[ln] * f1 + units * overhead
        c2 = acc[ln] * f2 + units * overhead
        if c1 > w1:
            w1 = c1
        if c2 > w2:
            w2 = c2
    return w1 + latency, w2 + latency


@njit(cache=True)
def _interleaved_tile_cycles_pair(counts: np.ndarray, t1: int, t2: int, L: int, P: int, mapping: int, overhead: int,
                                  latency: int, load: np.ndarray, wrap: np.ndarray) -> tuple[int, int]:
    """Interleaved assignment, for token counts t1 and t2: the I work items of the tile, units
    in order, go to lines 0, 1, ..., L - 1, 0, ... (line l gets ceil((I - l) / L) of them),
    each costing ceil(T / P) cycles (token-parallel: one non-zero on P tokens) or T cycles
    (non-zero-parallel: up to P non-zeros of one unit reduced per token); a unit's overhead is
    paid by the line that takes its first item. Tile: the slowest line + latency, i.e.
    ceil(nnz / L) ceil(T / P) token-parallel without overheads (ViTCoD's sparse rule).
    wrap[k] = k mod L for every k < L + the largest count."""
    load[:L] = 0  # overhead cycles per line
    items, ptr = 0, 0
    for i in range(counts.shape[0]):
        c = counts[i] if mapping == TOKEN_PARALLEL else -(-counts[i] // P)
        load[ptr] += overhead
        ptr = wrap[ptr + c]  # (ptr + c) mod L, without a division
        items += c
    f1 = -(-t1 // P) if mapping == TOKEN_PARALLEL else t1
    f2 = -(-t2 // P) if mapping == TOKEN_PARALLEL else t2
    w1, w2 = 0, 0
    q, r = items // L, items % L  # line l takes q + (l < r) items
    for ln in range(L):
        n_items = q + (1 if ln < r else 0)
        w1 = max(w1, n_items * f1 + load[ln])
        w2 = max(w2, n_items * f2 + load[ln])
    return w1 + latency, w2 + latency


@njit(cache=True)
def _interleaved_adaptive_pair(counts: np.ndarray, t1: int, t2: int, L: int, P: int, overhead: int, latency: int,
                               load: np.ndarray, ceil_p: np.ndarray, wrap: np.ndarray) -> tuple[int, int, int, int]:
    """`_interleaved_tile_cycles_pair` for both mappings in one pass over the units (the
    adaptive line's two candidates): (token-parallel t1, t2, non-zero-parallel t1, t2).
    `load` is scratch space of at least 2 L entries; ceil_p and wrap as
    sparse_tile_cycles_pair takes them."""
    load[:2 * L] = 0  # overhead cycles per line: token-parallel [0, L), non-zero-parallel [L, 2L)
    i_tp, i_np, p_tp, p_np = 0, 0, 0, 0
    for i in range(counts.shape[0]):
        load[p_tp] += overhead
        load[L + p_np] += overhead
        c_tp, c_np = counts[i], ceil_p[counts[i]]
        p_tp = wrap[p_tp + c_tp]  # mod L by table: no division, no unpredictable branch
        p_np = wrap[p_np + c_np]
        i_tp += c_tp
        i_np += c_np
    f1, f2 = -(-t1 // P), -(-t2 // P)
    q_tp, r_tp, q_np, r_np = i_tp // L, i_tp % L, i_np // L, i_np % L  # line l: q + (l < r) items
    a1, a2, b1, b2 = 0, 0, 0, 0
    for ln in range(L):
        n_tp = q_tp + (1 if ln < r_tp else 0)
        n_np = q_np + (1 if ln < r_np else 0)
        a1, a2 = max(a1, n_tp * f1 + load[ln]), max(a2, n_tp * f2 + load[ln])
        b1, b2 = max(b1, n_np * t1 + load[L + ln]), max(b2, n_np * t2 + load[L + ln])
    return a1 + latency, a2 + latency, b1 + latency, b2 + latency


@njit(cache=True)
def sparse_tile_actions(nnz: int, units: int, rows: int, cols: int, tokens: int, P: int, mapping: int,
                        wb: int, ab: int, ob: int, ib: int, pb: int, bitmask: bool, red_first: bool,
                        act: np.ndarray, times: int = 1) -> None:
    """Adds `times` x the actions of one sparse tile of `units` units holding nnz non-zeros to
    `act` (energy/actions.py layout), under the fixed `mapping` it runs (an adaptive line's
    choice for the tile).

    A pass over the tile's non-zeros serves P tokens (token-parallel: ceil(T / P) passes) or
    one token (non-zero-parallel: T passes). Per pass every non-zero's value (wb bits) and
    index (ib bits) are read and decoded, and every unit's pointer (pb bits) is read and
    decoded; a bitmask format reads and decodes its rows x cols mask positions per pass.
    Computed (= useful) MACs and input reads: nnz T products, nnz T ab bits. Partial sums
    accumulate in the lines' accumulators (a MAC's accumulator update is part of its energy;
    a line holds its tile's rows x P partial sums), and the tile's output block (rows x T)
    is written to the output buffer once, ob bits each, after reading the earlier partial
    sums when the tile is not its op's first along the reduction.
    """
    passes = -(-tokens // P) if mapping == TOKEN_PARALLEL else tokens
    act[COMPUTED_MACS] += nnz * tokens * times
    act[USEFUL_MACS] += nnz * tokens * times
    act[W_READ_BITS] += nnz * passes * wb * times
    if bitmask:
        act[IDX_READ_BITS] += rows * cols * passes * times
        act[DECODES] += rows * cols * passes * times
    else:
        act[IDX_READ_BITS] += (nnz * ib + units * pb) * passes * times
        act[DECODES] += nnz * passes * times
        act[POINTER_DECODES] += units * passes * times
    act[X_READ_BITS] += nnz * tokens * ab * times
    act[OUT_WRITE_BITS] += rows * tokens * ob * times
    if not red_first:
        act[OUT_READ_BITS] += rows * tokens * ob * times
