"""Per-op tile kernels (numba): every tile's bytes, compute cycles and useful MACs, in loop order
(token tile, output tile, reduction tile)."""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.energy.actions import (COMPUTED_MACS, IDX_LOAD_BYTES, OUT_READ_BITS, OUT_WRITE_BITS,
                                      W_READ_BITS, X_READ_BITS)
from simulator.engines.mac_lines import mac_lines_tile_actions, mac_lines_tile_cycles
from simulator.engines.nm import nm_chunk_inputs, nm_inputs
from simulator.engines.sparser import sparse_tile_actions, sparse_tile_cycles_pair
from simulator.engines.systolic import OS, systolic_stream_tile_cycles, systolic_tile_actions


@njit(cache=True)
def _dense_tile(i, k0, mt, kt, nt, load_w, load_x, first, last, red_first, wb, ab, ob, kind, dataflow, R, C, physical,
                latency, packing, nm, nbytes, cycles, wbytes):
    """Writes tile i's bytes (the weight and input slices it loads), cycles and weight bytes;
    returns its actions (the engine's *_tile_actions tuple). k0: the tile's first reduction
    index. nm = (n, m, index bits, positions K) of an N:M GEMM over slots (engines/nm.py), n = 0
    for a dense one: a slot carries its index bits, and the inputs are its groups' positions."""
    n, m, ib, K = nm
    w = (kt * nt * (wb + ib) + 7) // 8 if load_w else 0
    xk = kt if n == 0 else nm_inputs(k0, kt, n, m, K)
    x = (xk * mt * ab + 7) // 8 if load_x else 0
    nbytes[i] = w + x
    wbytes[i] = w
    if kind == 0:
        cycles[i] = systolic_stream_tile_cycles(dataflow, R, C, mt, kt, nt, physical, first, last)
        a = systolic_tile_actions(dataflow, R, C, mt, kt, nt, wb + ib, ab, ob, first, last, red_first)
        chunk = kt if dataflow == OS else R
    else:
        cycles[i] = mac_lines_tile_cycles(C, R, latency, mt, kt, nt, packing)
        a = mac_lines_tile_actions(C, R, mt, kt, nt, packing, wb + ib, ab, ob, red_first)
        chunk = R
    if n == 0:
        return a
    # an engine's input reads are linear in the positions it reads: scale from slots to positions
    return a[0], a[1], a[2] // kt * nm_chunk_inputs(k0, kt, chunk, n, m, K), a[3], a[4]


@njit(cache=True)
def dense_op_tiles(T, K, N, nest, tt, tk, tn, block, reuse_inputs, wb, ab, ob, kind, dataflow, R, C, physical,
                   latency, quirk, packing, nbytes, cycles, wbytes, off, act):
    """Tiles of a dense GEMM (M = T tokens, K, N) in the order of its loop nest (program.shapes):
    per tile bytes, cycles and weight bytes, written from index `off` of the three arrays
    (which have room for dense_tile_count tiles); returns (tiles written, useful MACs T K N).

    kind 0: systolic R x C with `dataflow`; kind 1: MAC lines (R = MACs per line, C = lines).
    A tile loads its weight slice unless the previous tile holds the same one (a stationary
    operand stays), and its input slice unless that slice is already on chip (reuse_inputs:
    loaded at its scope's first output tile or block only). A run of tiles along the streamed
    dimension with one stationary block continues the systolic stream (first/last flags).
    quirk: subtract SCALE-Sim's trailing cycle once, from the op's first tile.
    act: the op's action counts (energy/actions.py), added to by every tile's engine rule.
    """
    return _gemm_tiles(T, K, N, nest, tt, tk, tn, block, reuse_inputs, wb, ab, ob, kind, dataflow, R, C, physical,
                       latency, quirk, packing, (0, 1, 0, K), nbytes, cycles, wbytes, off, act)


@njit(cache=True)
def nm_op_tiles(T, Kc, N, nest, tt, tk, tn, block, reuse_inputs, wb, ab, ob, kind, dataflow, R, C, physical,
                latency, quirk, packing, n, m, ib, K, nbytes, cycles, wbytes, off, act):
    """Tiles of an N:M GEMM on the denser engine (engines/nm.py): dense_op_tiles over the Kc
    slots of a reduction of K positions, each slot with ib index bits, its inputs the positions
    of its groups; returns (tiles written, computed MACs T Kc N)."""
    return _gemm_tiles(T, Kc, N, nest, tt, tk, tn, block, reuse_inputs, wb, ab, ob, kind, dataflow, R, C, physical,
                       latency, quirk, packing, (n, m, ib, K), nbytes, cycles, wbytes, off, act)


_MEMO = 256  # slots of _fill_tiles' table (a power of two); an op has a few dozen distinct tiles
_LOW = (1 << 28) - 1


@njit(cache=True, inline="always")
def _params(i, c, mt, kt, nt, load_w, load_x, first, last, red_first, nbytes, cycles, wbytes):
    """Writes tile i's parameters into its three rows until _fill_tiles replaces them by its
    values: (mt, the five flags), kt, (nt, reduction tile index c)."""
    nbytes[i] = mt * 32 + load_w + 2 * load_x + 4 * first + 8 * last + 16 * red_first
    wbytes[i] = kt
    cycles[i] = nt + c * (1 << 31)


@njit(cache=True)
def _fill_tiles(off, n, tk, wb, ab, ob, kind, dataflow, R, C, physical, latency, packing, nm, nbytes, cycles, wbytes):
    """Replaces the parameters _params wrote for tiles off.. off + n by each tile's bytes, cycles
    and weight bytes (_dense_tile), evaluating each distinct parameter set once; returns the
    tiles' summed actions. Tiles with equal parameters are equal: k0 = c tk enters only an N:M
    GEMM's tiles, and c is part of the parameters there only."""
    tab = np.full((_MEMO, 11), -1, np.int64)  # parameters (3), bytes, cycles, weight bytes, actions (5)
    used = 0
    a0, a1, a2, a3, a4 = 0, 0, 0, 0, 0
    h = 0
    for i in range(off, off + n):
        p0, p1, p2 = nbytes[i], wbytes[i], cycles[i]
        if tab[h, 0] == p0 and tab[h, 1] == p1 and tab[h, 2] == p2:  # the previous tile's parameters
            nbytes[i], cycles[i], wbytes[i] = tab[h, 3], tab[h, 4], tab[h, 5]
            a0, a1, a2, a3, a4 = a0 + tab[h, 6], a1 + tab[h, 7], a2 + tab[h, 8], a3 + tab[h, 9], a4 + tab[h, 10]
            continue
        h = ((p0 & _LOW) * 31 + (p1 & _LOW) * 1009 + (p2 & _LOW) * 65537) & (_MEMO - 1)
        while tab[h, 0] != -1 and (tab[h, 0] != p0 or tab[h, 1] != p1 or tab[h, 2] != p2):
            h = (h + 1) & (_MEMO - 1)
        if tab[h, 0] == -1:
            f, c = p0 & 31, p2 >> 31
            a = _dense_tile(i, c * tk, p0 >> 5, p1, p2 & ((1 << 31) - 1), (f & 1) != 0, (f & 2) != 0, (f & 4) != 0,
                            (f & 8) != 0, (f & 16) != 0, wb, ab, ob, kind, dataflow, R, C, physical, latency, packing,
                            nm, nbytes, cycles, wbytes)
            if used < _MEMO // 2:  # keep the table sparse: probes stay short
                tab[h, 0], tab[h, 1], tab[h, 2] = p0, p1, p2
                tab[h, 3], tab[h, 4], tab[h, 5] = nbytes[i], cycles[i], wbytes[i]
                tab[h, 6], tab[h, 7], tab[h, 8], tab[h, 9], tab[h, 10] = a
                used += 1
        else:
            nbytes[i], cycles[i], wbytes[i] = tab[h, 3], tab[h, 4], tab[h, 5]
            a = (tab[h, 6], tab[h, 7], tab[h, 8], tab[h, 9], tab[h, 10])
        a0, a1, a2, a3, a4 = a0 + a[0], a1 + a[1], a2 + a[2], a3 + a[3], a4 + a[4]
    return a0, a1, a2, a3, a4


@njit(cache=True)
def _gemm_tiles(T, K, N, nest, tt, tk, tn, block, reuse_inputs, wb, ab, ob, kind, dataflow, R, C, physical,
                latency, quirk, packing, nm, nbytes, cycles, wbytes, off, act):
    """dense_op_tiles, with nm as _dense_tile takes it: the loop nest writes each tile's
    parameters, _fill_tiles their values."""
    n_t = -(-T // tt)
    n_n = -(-N // tn)
    n_k = -(-K // tk)
    nm_op = nm[0] > 0  # an N:M GEMM's tiles depend on their reduction tile (c)
    i = off
    if nest == 0:  # TNK: token tile, output tile, reduction tile (streamed)
        for a in range(n_t):
            mt = min(tt, T - a * tt)
            for b in range(n_n):
                nt = min(tn, N - b * tn)
                for c in range(n_k):
                    load_w = not (n_k == 1 and n_n == 1 and a > 0)
                    _params(i, c if nm_op else 0, mt, min(tk, K - c * tk), nt, load_w, not (reuse_inputs and b > 0),
                            c == 0, c == n_k - 1, c == 0, nbytes, cycles, wbytes)
                    i += 1
    elif nest == 1:  # NKT: token block, output tile, reduction tile, token tile (streamed)
        same = n_k == 1 and n_n == 1  # one weight tile: the stationary weights (and their stream) carry over blocks
        for t0 in range(0, T, block):
            tb = min(block, T - t0)
            n_d = -(-tb // tt)
            for b in range(n_n):
                nt = min(tn, N - b * tn)
                for c in range(n_k):
                    kt = min(tk, K - c * tk)
                    for d in range(n_d):
                        _params(i, c if nm_op else 0, min(tt, tb - d * tt), kt, nt, d == 0 and not (same and t0 > 0),
                                not (reuse_inputs and b > 0), d == 0 and not (same and t0 > 0),
                                d == n_d - 1 and not (same and t0 + tb < T), c == 0, nbytes, cycles, wbytes)
                        i += 1
    else:  # TKN: output block, token tile, reduction tile, output tile (streamed)
        same = n_k == 1 and n_t == 1  # one input tile: the stationary inputs (and their stream) carry over blocks
        for n0 in range(0, N, block):
            nb = min(block, N - n0)
            n_e = -(-nb // tn)
            for a in range(n_t):
                mt = min(tt, T - a * tt)
                for c in range(n_k):
                    kt = min(tk, K - c * tk)
                    for e in range(n_e):
                        load_w = not (e == 0 and n_e == 1 and n_k == 1 and a > 0)
                        load_x = e == 0 and not (reuse_inputs and n0 > 0)
                        _params(i, c if nm_op else 0, mt, kt, min(tn, nb - e * tn), load_w, load_x,
                                e == 0 and not (same and n0 > 0), e == n_e - 1 and not (same and n0 + nb < N), c == 0,
                                nbytes, cycles, wbytes)
                        i += 1
    acc = _fill_tiles(off, i - off, tk, wb, ab, ob, kind, dataflow, R, C, physical, latency, packing, nm, nbytes,
                      cycles, wbytes)
    if quirk and i > off and cycles[off] > 1:
        cycles[off] -= 1
    act[COMPUTED_MACS] += acc[0]
    act[W_READ_BITS] += acc[1]
    act[X_READ_BITS] += acc[2]
    act[OUT_WRITE_BITS] += acc[3]
    act[OUT_READ_BITS] += acc[4]
    return i - off, T * K * N


@njit(cache=True)
def _index_bytes(rows, cols, nnz, units, ib, pb, bitmask, position_bytes):
    """A sparse tile's index bytes: its bitmask (rows x cols bits), or nnz indices of ib bits and
    units + 1 pointers of pb bits; plus the format's decode cost per weight position in
    bytes-worth of transfer (config sparser_engine.position_bytes): ceil(rows cols position_bytes)."""
    if bitmask:
        b = (rows * cols + 7) // 8
    else:
        b = (nnz * ib + (units + 1) * pb + 7) // 8
    if position_bytes > 0.0:
        b += int(np.ceil(rows * cols * position_bytes))
    return b


@njit(cache=True)
def sparse_op_tiles(counts, by_column, order, m, T, tt, tm, tk, reuse_inputs, wb, ab, ob, ib, pb, bitmask,
                    L, P, mapping, overhead, policy, latency, nbytes, cycles, wbytes, off, act, position_bytes=0.0):
    """Tiles of the sparse GEMM on the sparser engine: per tile bytes, cycles and weight
    (+index) bytes, written from index `off` of the three arrays (room for n_t n_r n_c
    tiles); returns (tiles written, useful MACs = non-zeros x tokens).

    counts: (row blocks, n) per-column counts when `by_column` (units = columns of S),
    else (column blocks, m) per-row counts over the sparse columns in `order` (units = rows).
    Loop order: token tile, row block (output tile), column block (reduction tile). A tile's
    weights and cycles depend on its token count only through mt, so each (row block,
    column block) is evaluated once per distinct mt (full token tiles and the last one).
    act: the op's action counts (energy/actions.py), added to by sparse_tile_actions under
    the mapping each tile runs (sparse_tile_cycles_pair: an adaptive line's choice).
    position_bytes: the format's decode cost per weight position (_index_bytes).
    """
    n_sp = order.shape[0]
    n_t = -(-T // tt)
    n_r = -(-m // tm)
    n_c = -(-n_sp // tk)
    per = n_r * n_c
    nnz_rc = np.empty(per, np.int64)
    w_rc = np.empty(per, np.int64)
    cyc_full = np.empty(per, np.int64)
    cyc_last = np.empty(per, np.int64)
    unit = np.empty(max(tm, tk), np.int64)
    scratch = np.empty(2 * L, np.int64)  # the adaptive interleaved kernel uses two rows
    ceil_p = np.empty(max(tm, tk) + 1, np.int64)
    for k in range(ceil_p.shape[0]):
        ceil_p[k] = -(-k // P)
    wrap = np.arange(L + ceil_p.shape[0]) % L  # wrap[k] = k mod L: a line pointer plus one unit's count
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
            idx_bytes = _index_bytes(rows, cols, nnz, nu, ib, pb, bitmask, position_bytes)
            nnz_rc[i] = nnz
            w_rc[i] = (nnz * wb + 7) // 8 + idx_bytes
            cyc_full[i], cyc_last[i], m_full, m_last = sparse_tile_cycles_pair(unit[:nu], tt, last_mt, L, P, mapping,
                                                                               overhead, policy, latency, scratch,
                                                                               ceil_p, wrap)
            if n_t > 1:  # the full token tiles: one tile's actions, n_t - 1 times
                sparse_tile_actions(nnz, nu, rows, cols, tt, P, m_full, wb, ab, ob, ib, pb, bitmask, c == 0, act,
                                    n_t - 1)
            sparse_tile_actions(nnz, nu, rows, cols, last_mt, P, m_last, wb, ab, ob, ib, pb, bitmask, c == 0, act)
            act[IDX_LOAD_BYTES] += idx_bytes * n_t
            i += 1
    i = off
    for a in range(n_t):
        mt = min(tt, T - a * tt)
        j = 0
        for r in range(n_r):
            for c in range(n_c):
                cols = min(tk, n_sp - c * tk)
                w = w_rc[j]
                x = 0 if (reuse_inputs and r > 0) else (cols * mt * ab + 7) // 8
                nbytes[i] = w + x
                wbytes[i] = w
                cycles[i] = cyc_last[j] if a == n_t - 1 else cyc_full[j]
                i += 1
                j += 1
    return i - off, nnz_rc.sum() * T

