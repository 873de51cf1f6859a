"""SCALE-Sim 3.0.0's cycle accounting of one GEMM layer with DRAM stalls, fast (numba).

Scope: GEMM mode, USER bandwidth mode, no custom layout, no sparsity, no Ramulator trace.
Word = 1 byte, so every size below is in words (= bytes) and every time in cycles. The
layer is A (M x K, "ifmap") times B (K x N, "filter") giving M x N ("ofmap") on an R x C
array; element ids are ifmap m*K+k, filter n*K+k (SCALE-Sim's addresses minus offsets).

Demand rows. The array touches its SRAMs in "rows", one per stall-free cycle, fold after
fold (outer loop over column folds, inner over row folds). Per fold:
  os: folds cdiv(M,R)*cdiv(N,C), R+C+K-2 rows; ifmap A^T and filter B streamed skewed.
  ws: folds cdiv(K,R)*cdiv(N,C), 2R+C+M-2 rows; the R weight rows of B (bottom row first)
      in the first R rows, then A skewed after an R-row gap.
  is: folds cdiv(K,R)*cdiv(M,C), 2R+C+N-2 rows; the R rows of A^T (bottom row first) in
      the first R rows, then B^T skewed after an R-row gap.
"Skewed" means column j of the array is j rows late. compute_cycles = rows - 1.
The rows are generated on the fly: a row's demands are an arithmetic run of ids.

Read SRAM (ifmap, filter) of S KB, DRAM bandwidth bw words/cycle: T = 1024*S, active half
Aw = ceil(T/2), prefetch half Pw = T - Aw. The operand's prefetch order (fold blocks stacked,
padded to the array width, read by anti-diagonals bottom row first -- row-major for the ws
filter and the is ifmap) is cut into sets of e = ceil(T/100) real words, L = V//e + 1 sets
(V real words). The active window is A = min(ceil(Aw/e), L) sets starting at set k*P mod L,
P = min(ceil(Pw/e), L-A), k = prefetches so far. A demand (rows in order, columns in order)
whose set is outside the window triggers prefetches k+1, k+2, ... until it is inside.
Prefetch k has returned at T_k = -1 + k*(n+1), n = ceil(Pw/bw) lines, whenever it was asked
for. Row stall: t = c+1; per prefetch of the row t = T_k + max(0, T_k - t); stall = t-c-1
(late data costs twice its lateness; early data may make it negative). The initial fill is
I = min(ceil(Aw/bw), ceil(Q/bw)) lines (Q = padded prefetch entries) returning at -I..-1.
DRAM reads = bw*(I + n*prefetches).

Ofmap SRAM of So KB, bandwidth bw_o: To = 1024*So, Ao = ceil(To/2), drain chunk
l = ceil((To-Ao)/bw_o) lines of bw_o words. Free space F starts at To, last drain end E at 0.
Each written word: F -= 1; if the row's time c' < E: when F <= 0 the array waits until E
(stall += E-c'); else if F < Ao: drain at c' -- close the partly filled line, send
d = min(l, lines waiting) lines, one a cycle (latency 0), E = c'+d-1, F += d*bw_o minus the
empty slots of the last sent line. After the last row everything left drains in chunks,
back to back, from Total Cycles on. DRAM writes = sum of those F increments.

Rows: c_0 = 0, c_{i+1} = c_i + 1 + max(ifmap, filter, ofmap stall of row i).
Total Cycles = c_last + ofmap stall of the last row; Stall Cycles = sum of row stalls;
Total Cycles (incl. prefetch) = last drain end + max(I_ifmap, I_filter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["ScaleSimLayer", "scalesim_layer"]

_DATAFLOWS = {"os": 0, "ws": 1, "is": 2}
_NEVER = -(1 << 62)

# Ofmap write-buffer state, one int64 array (slots below), so helpers can update it in place.
# F free words, E end of the last drain, PEND words in the open line, MADE lines closed so far,
# HEAD lines drained so far, PP/NPART read pointer/count of recorded partial lines, WRITES
# words drained, MAXEND latest drain end.
_F, _E, _PEND, _MADE, _HEAD, _PP, _NPART, _WRITES, _MAXEND = range(9)


@dataclass(frozen=True)
class ScaleSimLayer:
    """SCALE-Sim 3.0.0 report figures for one GEMM layer (COMPUTE_REPORT, DETAILED_ACCESS_REPORT).

    compute_cycles: stall-free "Total Cycles" = demand rows - 1 (cycles).
    total_cycles: "Total Cycles", cycle at which the last ofmap row is written (cycles).
    total_cycles_incl_prefetch: "Total Cycles (incl. prefetch)", from the start of the initial
        operand fill to the end of the last ofmap drain (cycles).
    stall_cycles: "Stall Cycles", sum over demand rows of the row stall (cycles).
    ifmap_dram_reads / filter_dram_reads: "DRAM IFMAP/Filter Reads", words (= bytes) requested
        from DRAM, padding and partly used lines included.
    ofmap_dram_writes: "DRAM OFMAP Writes", words (= bytes) drained to DRAM.
    """

    compute_cycles: int  # cycles
    total_cycles: int  # cycles
    total_cycles_incl_prefetch: int  # cycles
    stall_cycles: int  # cycles
    ifmap_dram_reads: int  # words (bytes)
    filter_dram_reads: int  # words (bytes)
    ofmap_dram_writes: int  # words (bytes)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


# ----------------------------------------------------------------------------- geometry


def _folds(df: int, R: int, C: int, M: int, N: int, K: int) -> tuple[int, int, int]:
    """(column folds, row folds, demand rows per fold)."""
    if df == 0:
        return _cdiv(N, C), _cdiv(M, R), R + C + K - 2
    if df == 1:
        return _cdiv(N, C), _cdiv(K, R), 2 * R + C + M - 2
    return _cdiv(M, C), _cdiv(K, R), 2 * R + C + N - 2


def _prefetch_stacks(df: int, R: int, C: int, M: int, N: int, K: int) -> tuple[tuple, tuple]:
    """Prefetch order of (ifmap, filter) as (blocks, block rows h, width w, outer limit,
    id stride of outer index, id stride of inner index, anti-diagonal?).

    Stack row f*h + i, column c holds outer index o = f*w + c (real if o < limit) and inner
    index i; the element id is o*so + i*si.
    """
    if df == 0:   # A^T blocks of R columns (m), B blocks of C columns (n); inner index k
        return ((_cdiv(M, R), K, R, M, K, 1, True), (_cdiv(N, C), K, C, N, K, 1, True))
    if df == 1:   # A blocks of R columns (k, inner m); B blocks of C columns, row-major
        return ((_cdiv(K, R), M, R, K, 1, K, True), (_cdiv(N, C), K, C, N, K, 1, False))
    # is: A^T blocks of C columns (m), row-major; B^T blocks of R columns (k, inner n)
    return ((_cdiv(M, C), K, C, M, K, 1, False), (_cdiv(K, R), N, R, K, 1, K, True))


@dataclass(frozen=True)
class _ReadGeometry:
    """One read SRAM: window in sets (L, A, P), lines per prefetch n, initial fill I."""

    L: int
    A: int
    P: int
    n: int
    I: int
    per_set: int
    bw: int


def _read_geometry(kb: int, bw: int, real_words: int, padded_words: int) -> _ReadGeometry:
    total = 1024 * kb                           # words (word = 1 byte)
    active = _cdiv(total, 2)
    prefetch = total - active
    per_set = _cdiv(total, 100)
    L = real_words // per_set + 1               # a trailing (maybe empty) set still counts
    A = min(_cdiv(active, per_set), L)
    P = min(_cdiv(prefetch, per_set), L - A)
    I = min(_cdiv(active, bw), _cdiv(padded_words, bw))
    return _ReadGeometry(L, A, P, _cdiv(prefetch, bw), I, per_set, bw)


# ----------------------------------------------------------------------------- numba kernels


@njit(cache=True)
def _fill_sets(sets: np.ndarray, nb: int, h: int, w: int, lim: int, so: int, si: int,
               diagonal: bool, per_set: int) -> None:
    """sets[id] = hash set of operand element id, walking the stack in prefetch order."""
    H = nb * h
    rank = 0
    if diagonal:
        for d in range(H + w - 1):
            # anti-diagonal d, bottom row first
            for r in range(min(d, H - 1), max(0, d - w + 1) - 1, -1):
                f = r // h
                o = f * w + d - r
                if o < lim:
                    sets[o * so + (r - f * h) * si] = rank // per_set
                    rank += 1
    else:
        for r in range(H):
            f = r // h
            for c in range(w):
                o = f * w + c
                if o < lim:
                    sets[o * so + (r - f * h) * si] = rank // per_set
                    rank += 1


@njit(cache=True)
def _demand_specs(df: int, R: int, C: int, M: int, N: int, K: int, fc: int, fr: int):
    """Per fold: ifmap and filter demand specs and the ofmap word-count spec.

    Read spec (kind, base, jv, a, b, so, si); columns j < jv are real.
      kind 0 (skewed): column j in fold row t reads inner index u = t - a - j, 0 <= u < b,
        outer index base + j; id = (base+j)*so + u*si.
      kind 1 (the stationary operand, loaded bottom row first): fold row t < b=R reads k = a + R-1-t
        (if k < K) in every column j; id = (base+j)*so + k with so = K.
    Ofmap spec (off, lo, hi, jv): column j writes in row t when lo <= t-off-j < hi, j < jv.
    """
    if df == 0:
        rv = min(R, M - fr * R)
        cv = min(C, N - fc * C)
        ifm = (0, fr * R, rv, 0, K, K, 1)
        fil = (0, fc * C, cv, 0, K, K, 1)
        ofm = (K - 1, R - rv, R, cv)
    elif df == 1:
        ifm = (0, fr * R, min(R, K - fr * R), R, M, 1, K)
        fil = (1, fc * C, min(C, N - fc * C), fr * R, R, K, 1)
        ofm = (2 * R - 1, 0, M, min(C, N - fc * C))
    else:
        ifm = (1, fc * C, min(C, M - fc * C), fr * R, R, K, 1)
        fil = (0, fr * R, min(R, K - fr * R), R, N, 1, K)
        ofm = (2 * R - 1, 0, N, min(C, M - fc * C))
    return ifm, fil, ofm


@njit(cache=True)
def _row_run(spec: tuple, t: int, K: int) -> tuple[int, int, int]:
    """Demands of fold row t as an arithmetic run (first id, id stride, count)."""
    kind, base, jv, a, b, so, si = spec
    if kind == 0:
        v = t - a                                   # inner index seen by column 0
        jlo = max(0, v - b + 1)
        jhi = min(jv, v + 1)
        if jhi <= jlo:
            return 0, 0, 0
        return (base + jlo) * so + (v - jlo) * si, so - si, jhi - jlo
    k = a + b - 1 - t
    if t >= b or k >= K:
        return 0, 0, 0
    return base * so + k, so, jv


@njit(cache=True)
def _ofmap_words(spec: tuple, t: int) -> int:
    """Ofmap words written in fold row t."""
    off, lo, hi, jv = spec
    v = t - off
    return max(0, min(jv, v - lo + 1) - max(0, v - hi + 1))


@njit(cache=True)
def _scan(sets: np.ndarray, id0: int, stride: int, cnt: int, k: int, L: int, A: int,
          P: int) -> int:
    """Check cnt demands against the window; return the prefetch count k afterwards."""
    start = (k * P) % L
    idx = id0
    for _ in range(cnt):
        d = sets[idx] - start                       # set's offset past the window start
        if d < 0:
            d += L
        if d >= A:
            # Miss. Each prefetch moves the window P <= A sets on, so the first window that
            # holds offset d is the j-th one with j*P + A > d; none before it wraps onto d.
            j = (d - A + P) // P
            k += j
            start = (start + j * P) % L
        idx += stride
    return k


@njit(cache=True)
def _read_stall(k0: int, k1: int, cycle: int, n: int) -> int:
    """Row stall from prefetches k0+1..k1 (chained: prefetch k is back at -1 + k*(n+1)).

    Per prefetch t <- T_k + late, late = max(0, T_k - t). The first one is late against
    cycle+1; each later one comes n+1 after its predecessor, so its lateness is
    max(0, n+1 - previous lateness), which repeats with period 2 from the second on.
    """
    if k1 == k0:
        return 0
    late = max(0, -1 + (k0 + 1) * (n + 1) - (cycle + 1))   # hit latency 1
    m = k1 - k0
    if m > 1:
        late2 = max(0, n + 1 - late)
        late = late2 if m % 2 == 0 else max(0, n + 1 - late2)
    return -1 + k1 * (n + 1) + late - cycle - 1


@njit(cache=True)
def _flush(st: np.ndarray, parts: np.ndarray, bw: int) -> np.ndarray:
    """Close the open line: full lines plus one partial line (recorded with its fill)."""
    full = st[_PEND] // bw
    part = st[_PEND] - full * bw
    st[_MADE] += full
    if part:
        if st[_NPART] == parts.shape[0]:
            grown = np.empty((2 * parts.shape[0], 2), np.int64)
            grown[: parts.shape[0]] = parts
            parts = grown
        parts[st[_NPART], 0] = st[_MADE]
        parts[st[_NPART], 1] = part
        st[_NPART] += 1
        st[_MADE] += 1
    st[_PEND] = 0
    return parts


@njit(cache=True)
def _drain(st: np.ndarray, parts: np.ndarray, start: int, bw: int, ell: int) -> np.ndarray:
    """One drain at cycle `start`: up to ell lines, one a cycle; sets E, frees space."""
    parts = _flush(st, parts, bw)
    d = min(ell, st[_MADE] - st[_HEAD])
    last = st[_HEAD] + d - 1
    valid = bw
    while st[_PP] < st[_NPART] and parts[st[_PP], 0] <= last:
        if parts[st[_PP], 0] == last:
            valid = parts[st[_PP], 1]
        st[_PP] += 1
    freed = d * bw - (bw - valid)                   # only the last line's holes discount
    st[_HEAD] += d
    st[_F] += freed
    st[_WRITES] += freed
    st[_E] = start + d - 1                          # write latency 0
    st[_MAXEND] = max(st[_MAXEND], st[_E])
    return parts


@njit(cache=True)
def _write_row(st: np.ndarray, parts: np.ndarray, cycle: int, w: int, half: int, bw: int,
               ell: int) -> tuple[int, np.ndarray]:
    """Write w words at `cycle`; return (ofmap stall, parts). Words between events go in bulk."""
    cur = cycle
    while w > 0:
        if cur < st[_E]:
            x = max(st[_F], 1)                      # words until the buffer is full
        else:
            x = max(st[_F] - half + 1, 1)           # words until less than half is free
        x = min(x, w)
        st[_F] -= x
        st[_PEND] += x
        w -= x
        if cur < st[_E]:
            if st[_F] <= 0:
                cur = st[_E]                        # full while draining: the array waits
        elif st[_F] < half:
            parts = _drain(st, parts, cur, bw, ell)
    return cur - cycle, parts


@njit(cache=True)
def _run(df: int, R: int, C: int, M: int, N: int, K: int, folds: tuple,
         if_sets: np.ndarray, fl_sets: np.ndarray, rb: np.ndarray, ob: np.ndarray):
    """Walk all demand rows. folds = (column folds, row folds, rows per fold);
    rb[b] = (misses possible, L, A, P, n) for b = ifmap, filter; ob = (To, Ao, bw_o, l).
    Returns (stall, total, k_ifmap, k_filter, parts, state)."""
    ncf, nrf, rows = folds
    st = np.zeros(9, np.int64)
    st[_F], st[_MAXEND] = ob[0], _NEVER
    parts = np.empty((64, 2), np.int64)
    ks = np.zeros(2, np.int64)
    stall, row, total = 0, 0, 0
    for fc in range(ncf):
        for fr in range(nrf):
            ifm, fil, ofm = _demand_specs(df, R, C, M, N, K, fc, fr)
            for t in range(rows):
                cycle = row + stall
                s = 0
                for b in range(2):
                    if rb[b, 0] == 0:
                        continue                    # operand fits the active half: no miss
                    id0, stride, cnt = _row_run(ifm if b == 0 else fil, t, K)
                    if cnt == 0:
                        continue
                    k0 = ks[b]
                    ks[b] = _scan(if_sets if b == 0 else fl_sets, id0, stride, cnt,
                                  k0, rb[b, 1], rb[b, 2], rb[b, 3])
                    s = max(s, _read_stall(k0, ks[b], cycle, rb[b, 4]))
                s_of, parts = _write_row(st, parts, cycle, _ofmap_words(ofm, t),
                                         ob[1], ob[2], ob[3])
                stall += max(s, s_of)
                total = cycle + s_of                # ofmap time of the latest row
                row += 1
    return stall, total, ks[0], ks[1], parts, st


@njit(cache=True)
def _final_drain(st: np.ndarray, parts: np.ndarray, total: int, bw: int, ell: int) -> None:
    """Everything left drains in chunks, back to back, from cycle `total` on."""
    parts = _flush(st, parts, bw)
    start = total
    while st[_HEAD] < st[_MADE]:
        parts = _drain(st, parts, start, bw, ell)
        start = st[_E] + 1


# ----------------------------------------------------------------------------- public API


def _set_tables(stacks: tuple, geos: list) -> list:
    """Hash-set index of every element of each operand, int32 when it fits (a one-entry
    dummy for a buffer that never misses: its operand fits in the active half)."""
    sizes = [lim * h for (nb, h, w, lim, *_) in stacks]
    dtype = np.int32 if max(sizes) < 2**31 else np.int64
    tables = []
    for (nb, h, w, lim, so, si, diagonal), geo, size in zip(stacks, geos, sizes):
        if geo.A >= geo.L:
            tables.append(np.zeros(1, dtype))
            continue
        sets = np.empty(size, dtype)
        _fill_sets(sets, nb, h, w, lim, so, si, diagonal, geo.per_set)
        tables.append(sets)
    return tables


def _calc_fill(kb: int, bw: int, words: int) -> int:
    """CALC mode's first fill, cycles: its estimating buffer groups the operand's words in
    sets of e = floor(T / 100) as they are first demanded and prefetches the first 50 sets (or
    all ceil(V / e) sets of a smaller operand) at bw words per cycle, ending before cycle 0."""
    e = (1024 * kb) // 100
    return _cdiv(min(50, _cdiv(words, e)) * e, bw)


def scalesim_layer(dataflow: str, R: int, C: int, M: int, N: int, K: int,
                   ifmap_kb: int, filter_kb: int, ofmap_kb: int,
                   ifmap_bw: int, filter_bw: int, ofmap_bw: int, reads_stall: bool = True) -> ScaleSimLayer:
    """SCALE-Sim 3.0.0's cycles and DRAM traffic for an M x K by K x N GEMM (USER mode).

    reads_stall=False is its CALC mode: the read buffers only estimate the bandwidth they
    would need and never stall (checked against real CALC runs of SCALE-Sim's example config,
    tests/test_cli_scalesim.py); the initial fill still uses ifmap_bw / filter_bw (10 in CALC)
    and the ofmap write buffer works as in USER mode. The DRAM read counts then cover the fill
    only (SCALE-Sim's CALC counts are not modelled).

    dataflow 'os' | 'ws' | 'is'; R x C array; SRAM sizes in whole KB (1 KB = 1024 words);
    bandwidths in words/cycle: ifmap_bw = [layout] IfmapSRAMBankBandwidth, filter_bw =
    [layout] FilterSRAMBankBandwidth, ofmap_bw = first entry of [architecture_presets]
    Bandwidth.
    """
    df = _DATAFLOWS.get(str(dataflow).lower())
    if df is None:
        raise ValueError(f"unknown dataflow {dataflow!r} (expected os, ws or is)")
    args = dict(R=R, C=C, M=M, N=N, K=K, ifmap_kb=ifmap_kb, filter_kb=filter_kb,
                ofmap_kb=ofmap_kb, ifmap_bw=ifmap_bw, filter_bw=filter_bw, ofmap_bw=ofmap_bw)
    for name, v in args.items():
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    R, C, M, N, K = int(R), int(C), int(M), int(N), int(K)
    ncf, nrf, rows = _folds(df, R, C, M, N, K)
    stacks = _prefetch_stacks(df, R, C, M, N, K)
    geos = [_read_geometry(int(kb), int(bw), lim * h, nb * h * w)   # real, padded words
            for (nb, h, w, lim, *_), kb, bw in zip(stacks, (ifmap_kb, filter_kb),
                                                  (ifmap_bw, filter_bw))]
    tables = _set_tables(stacks, geos)
    rb = np.array([[int(reads_stall and g.A < g.L), g.L, g.A, g.P, g.n] for g in geos], np.int64)
    To = 1024 * int(ofmap_kb)
    bw_o = int(ofmap_bw)
    ell = _cdiv(To - _cdiv(To, 2), bw_o)
    ob = np.array([To, _cdiv(To, 2), bw_o, ell], np.int64)
    stall, total, k_if, k_fl, parts, st = _run(df, R, C, M, N, K, (ncf, nrf, rows),
                                               tables[0], tables[1], rb, ob)
    _final_drain(st, parts, total, bw_o, ell)
    fill = max(geos[0].I, geos[1].I)                # the initial fill ends at cycle -1
    if not reads_stall:
        fill = max(_calc_fill(int(ifmap_kb), int(ifmap_bw), M * K), _calc_fill(int(filter_kb), int(filter_bw), K * N))
    return ScaleSimLayer(
        compute_cycles=ncf * nrf * rows - 1,
        total_cycles=int(total),
        total_cycles_incl_prefetch=int(st[_MAXEND]) + fill,
        stall_cycles=int(stall),
        ifmap_dram_reads=geos[0].bw * (geos[0].I + geos[0].n * int(k_if)),
        filter_dram_reads=geos[1].bw * (geos[1].I + geos[1].n * int(k_fl)),
        ofmap_dram_writes=int(st[_WRITES]),
    )

