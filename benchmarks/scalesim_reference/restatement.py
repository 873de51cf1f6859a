"""Plain restatement of SCALE-Sim 3.0.0's cycle accounting for one GEMM layer.

This is an independent re-derivation (written from reading SCALE-Sim 3.0.0's
source, not copied from it) of the three COMPUTE_REPORT figures that SCALE-Sim
3.0.0 prints for a GEMM layer run in GEMM mode ("-i gemm"), USER bandwidth mode,
no custom layout, no sparsity, no Ramulator trace, word size 1 byte:

    "Total Cycles", "Total Cycles (incl. prefetch)", "Stall Cycles".

Conventions (SCALE-Sim's): ifmap is M x K, filter is K x N, ofmap is M x N.
All sizes are in elements (= bytes, word size 1); all times are in cycles.
It imports nothing from SCALE-Sim or from the sslcsim project (numpy only) and
is exercised by check_restatement.py against scalesim_reference.csv.

How the model works (details and formulas in README.md next to this file):

* The compute model turns the GEMM into three "demand matrices" (one row per
  stall-free cycle; row i lists the SRAM addresses the array touches in that
  cycle; -1 = nothing).  Their row count is the stall-free cycle count + 1.
* Each read SRAM (ifmap, filter) is a double buffer of T = KB*1024 elements:
  an active half of ceil(T/2) and a prefetch half of T - ceil(T/2).  Its
  contents are the operand in "prefetch order", cut into hash sets of
  ceil(T/100) addresses.  The active region is a circular window of A sets
  that jumps forward by P sets on every miss ("new prefetch").
* A new prefetch moves ceil(prefetch_half / bw) DRAM lines; the k-th one
  completes at cycle -1 + k*(ceil(prefetch_half/bw) + 1), whatever the demand
  cycle was (prefetches are chained back-to-back in time).
* The ofmap SRAM is a write buffer of T_o elements that drains
  ceil((T_o - ceil(T_o/2)) / bw_o) lines of bw_o words, one line per cycle,
  once more than T_o - ceil(T_o/2) words are waiting and the last drain has
  finished; it stalls the array only when it is completely full.
* Per demand row, stall = max(ifmap stall, filter stall, ofmap stall) and the
  next row starts that much later.  Total Cycles is the cycle at which the last
  ofmap row is written; the final ofmap drain and the initial operand fill are
  only in "Total Cycles (incl. prefetch)".

The evaluation is event driven: rows in which no buffer misses and the write
buffer neither drains nor stalls are skipped in bulk with numpy, so the Python
loop runs once per prefetch / drain / stall event, not once per cycle.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["scalesim_cycles", "stall_free_cycles"]


# --------------------------------------------------------------------------------------
# Closed forms (no DRAM stalls)
# --------------------------------------------------------------------------------------

def stall_free_cycles(dataflow: str, R: int, C: int, M: int, N: int, K: int) -> int:
    """SCALE-Sim's 'Total Cycles' when no stall occurs (number of demand rows - 1)."""
    return _num_rows(dataflow, R, C, M, N, K) - 1


def _num_rows(df, R, C, M, N, K):
    cdiv = lambda a, b: -(-a // b)
    if df == "os":
        return cdiv(M, R) * cdiv(N, C) * (R + C + K - 2)
    if df == "ws":
        return cdiv(K, R) * cdiv(N, C) * (2 * R + C + M - 2)
    if df == "is":
        return cdiv(K, R) * cdiv(M, C) * (2 * R + C + N - 2)
    raise ValueError(f"unknown dataflow {df!r}")


# --------------------------------------------------------------------------------------
# Operand orders.  Element ids: ifmap (m, k) -> m*K + k ; filter (k, n) -> n*K + k.
# (These are SCALE-Sim's GEMM-mode addresses minus the operand offsets.)
# --------------------------------------------------------------------------------------

def _cdiv(a, b):
    return -(-a // b)


def _antidiagonal_order(mat):
    """Flatten mat by anti-diagonals (row+col ascending), bottom row first in each."""
    rows, cols = mat.shape
    r, c = np.indices((rows, cols))
    key = (r + c) * rows + (rows - 1 - r)
    return mat.ravel()[np.argsort(key.ravel(), kind="stable")]


def _skew(block):
    """Column c of the block is delayed by c rows (systolic fill/drain skew)."""
    rows, cols = block.shape
    out = np.full((rows + cols - 1, cols), -1, dtype=np.int64)
    for c in range(cols):
        out[c:c + rows, c] = block[:, c]
    return out


def _pad(block, rows, cols):
    out = np.full((rows, cols), -1, dtype=np.int64)
    out[:block.shape[0], :block.shape[1]] = block
    return out


def _operands(df, R, C, M, N, K):
    """Return (ifmap_prefetch, filter_prefetch, ifmap_demand, filter_demand, ofmap_demand).

    Prefetch orders are 1-D id arrays including -1 padding; demand matrices are 2-D
    (one row per stall-free cycle).  The ofmap demand is only used as a 0/1 mask.
    """
    A = np.arange(M * K, dtype=np.int64).reshape(M, K)            # ifmap ids  [m, k]
    B = (np.arange(N, dtype=np.int64)[None, :] * K
         + np.arange(K, dtype=np.int64)[:, None])                  # filter ids [k, n]
    O = np.zeros((M, N), dtype=np.int64)                           # ofmap (mask only)
    AT = A.T                                                       # [k, m]
    if_dem, fl_dem, of_dem = [], [], []

    if df == "os":
        rf, cf = _cdiv(M, R), _cdiv(N, C)
        if_pf = _antidiagonal_order(np.concatenate(
            [_pad(AT[:, f * R:(f + 1) * R], K, R) for f in range(rf)]))
        fl_pf = _antidiagonal_order(np.concatenate(
            [_pad(B[:, f * C:(f + 1) * C], K, C) for f in range(cf)]))
        for fc in range(cf):
            for fr in range(rf):
                blk = _pad(AT[:, fr * R:(fr + 1) * R], K + C - 1, R)
                if_dem.append(_skew(blk))
                blk = _pad(B[:, fc * C:(fc + 1) * C], K + R - 1, C)
                fl_dem.append(_skew(blk))
                o = _pad(O[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C], R, C)[::-1]
                of_dem.append(_skew(np.concatenate([np.full((K - 1, C), -1), o])))
    elif df == "ws":
        rf, cf = _cdiv(K, R), _cdiv(N, C)
        if_pf = _antidiagonal_order(np.concatenate(
            [_pad(A[:, f * R:(f + 1) * R], M, R) for f in range(rf)]))
        fl_pf = np.concatenate(
            [_pad(B[:, f * C:(f + 1) * C], K, C) for f in range(cf)]).ravel()
        for fc in range(cf):
            for fr in range(rf):
                blk = np.concatenate([np.full((R, R), -1),
                                      _pad(A[:, fr * R:(fr + 1) * R], M, R),
                                      np.full((C - 1, R), -1)])
                if_dem.append(_skew(blk))
                w = _pad(B[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C], R, C)[::-1]
                fl_dem.append(np.concatenate([w, np.full((R + C + M - 2, C), -1)]))
                o = _pad(O[:, fc * C:(fc + 1) * C], M, C)
                of_dem.append(_skew(np.concatenate([np.full((2 * R - 1, C), -1), o])))
    elif df == "is":
        rf, cf = _cdiv(K, R), _cdiv(M, C)
        if_pf = np.concatenate(
            [_pad(AT[:, f * C:(f + 1) * C], K, C) for f in range(cf)]).ravel()
        fl_pf = _antidiagonal_order(np.concatenate(
            [_pad(B[f * R:(f + 1) * R, :].T, N, R) for f in range(rf)]))
        for fc in range(cf):
            for fr in range(rf):
                x = _pad(AT[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C], R, C)[::-1]
                if_dem.append(np.concatenate([x, np.full((R + C + N - 2, C), -1)]))
                blk = np.concatenate([np.full((R, R), -1),
                                      _pad(B[fr * R:(fr + 1) * R, :].T, N, R),
                                      np.full((C - 1, R), -1)])
                fl_dem.append(_skew(blk))
                o = _pad(O[fc * C:(fc + 1) * C, :].T, N, C)
                of_dem.append(_skew(np.concatenate([np.full((2 * R - 1, C), -1), o])))
    else:
        raise ValueError(f"unknown dataflow {df!r}")
    return (if_pf, fl_pf, np.concatenate(if_dem), np.concatenate(fl_dem),
            np.concatenate(of_dem))


# --------------------------------------------------------------------------------------
# Read buffer (ifmap / filter)
# --------------------------------------------------------------------------------------

class _ReadBuffer:
    """Geometry and miss events of one double-buffered read SRAM."""

    def __init__(self, size_kb, bw, prefetch_order, demand):
        total = size_kb * 1024                       # elements (word = 1 byte)
        self.active_size = math.ceil(total * 0.5)
        self.prefetch_size = total - self.active_size
        self.bw = bw
        per_set = math.ceil(total / 100)             # addresses per hash set
        valid = prefetch_order[prefetch_order >= 0]
        n_valid = valid.size
        self.num_sets = n_valid // per_set + 1       # the trailing (maybe empty) set counts
        self.active_sets = min(math.ceil(self.active_size / per_set), self.num_sets)
        self.step_sets = min(math.ceil(self.prefetch_size / per_set),
                             self.num_sets - self.active_sets)
        fetch_lines = _cdiv(prefetch_order.size, bw)  # -1 padding occupies fetch slots
        self.init_lines = min(_cdiv(self.active_size, bw), fetch_lines)
        self.lines_per_prefetch = _cdiv(self.prefetch_size, bw)

        rank = np.empty(int(valid.max()) + 1, dtype=np.int64)
        rank[valid] = np.arange(n_valid, dtype=np.int64)
        flat = demand.ravel()
        keep = flat >= 0
        self._rows = (np.nonzero(keep)[0] // demand.shape[1]).astype(np.int64)
        self._sets = rank[flat[keep]] // per_set
        self.events = self._miss_events()            # list of (row, k)

    def completion(self, k):
        """Cycle at which the k-th new prefetch (k >= 1) has returned from DRAM."""
        return -1 + k * (self.lines_per_prefetch + 1)

    def _miss_events(self):
        L, A, P = self.num_sets, self.active_sets, self.step_sets
        sets, rows = self._sets, self._rows
        n = sets.size
        events = []
        if A >= L or n == 0:
            return events
        pos, k, chunk = 0, 0, 1024
        while pos < n:
            start = (k * P) % L
            end = min(n, pos + chunk)
            miss = ((sets[pos:end] - start) % L) >= A
            j = int(np.argmax(miss))
            if not miss[j]:
                pos, chunk = end, min(chunk * 2, 1 << 20)
                continue
            j += pos
            s = int(sets[j])
            guard = 0
            while (s - (k * P) % L) % L >= A:     # slide the window until the set is in it
                k += 1
                events.append((int(rows[j]), k))
                guard += 1
                if guard > 2 * L + 2:
                    raise RuntimeError("window never covers a demanded set")
            pos, chunk = j + 1, 1024
        return events

    def dram_reads(self):
        n_new = len(self.events)
        return (self.init_lines + n_new * self.lines_per_prefetch) * self.bw


def _read_row_stall(buf, ks, cycle):
    """Stall that one demand row sees from a read buffer (can be negative)."""
    t = cycle + 1                                   # hit latency 1
    for k in ks:
        done = buf.completion(k)
        # SCALE-Sim 3.0.0 adds the shortfall twice when the data is late, and moves
        # the row's time back to the completion cycle when the data was early.
        t = done + max(0, done - t)
    return t - cycle - 1


# --------------------------------------------------------------------------------------
# Write buffer (ofmap)
# --------------------------------------------------------------------------------------

class _WriteBuffer:
    def __init__(self, size_kb, bw):
        self.total = size_kb * 1024
        self.active = math.ceil(self.total * 0.5)
        self.bw = bw
        self.lines_per_drain = _cdiv(self.total - self.active, bw)
        self.free = self.total
        self.drain_end = 0
        self.pending = 0               # words written since the last forced line flush
        self.segs = deque()            # undrained lines: [full_lines, partial_words]
        self.nlines = 0
        self.drain_ends = []
        self.first_drain_start = None
        self.writes = 0

    def _flush(self):
        full, part = divmod(self.pending, self.bw)
        if full or part:
            self.segs.append([full, part])
            self.nlines += full + (1 if part else 0)
        self.pending = 0

    def drain(self, start):
        self._flush()
        d = min(self.lines_per_drain, self.nlines)
        left, last_valid = d, self.bw
        while left:
            seg = self.segs[0]
            if seg[0]:
                take = min(seg[0], left)
                seg[0] -= take
                left -= take
                last_valid = self.bw
            else:
                last_valid = seg[1]
                seg[1] = 0
                left -= 1
            if seg[0] == 0 and seg[1] == 0:
                self.segs.popleft()
        # Only the last drained line's empty slots are discounted.
        data = d * self.bw - (self.bw - last_valid)
        self.free += data
        self.writes += data
        self.nlines -= d
        end = start + d - 1            # one line per cycle, write latency 0
        if self.first_drain_start is None:
            self.first_drain_start = start
        self.drain_ends.append(end)
        return end

    def bulk(self, words):
        self.free -= words
        self.pending += words

    def row(self, cycle, words):
        cur, offset = cycle, 0
        for _ in range(words):
            self.free -= 1
            self.pending += 1
            if cur < self.drain_end:
                if self.free <= 0:
                    offset += self.drain_end - cur
                    cur = self.drain_end
            elif self.free < self.active:
                self.drain_end = self.drain(cur)
        return offset

    def next_event_row(self, r, stall, E, next_nz, nrows):
        """Earliest row >= r at which this buffer could drain or stall (if no stall before)."""
        def row_of(word):               # row holding the word-th word counted from row r
            target = E[r] + word
            if target > E[nrows]:
                return nrows
            return int(np.searchsorted(E, target, side="left")) - 1
        if self.free >= self.active:
            return row_of(self.free - self.active + 1)
        r_stall = row_of(max(self.free, 1))
        t = max(r, self.drain_end - stall)
        r_drain = int(next_nz[t]) if t < nrows else nrows
        return min(r_stall, r_drain)


# --------------------------------------------------------------------------------------
# Top level
# --------------------------------------------------------------------------------------

def scalesim_cycles(dataflow, R, C, M, N, K, ifmap_kb, filter_kb, ofmap_kb,
                    ifmap_bw, filter_bw, ofmap_bw, *, details=False):
    """SCALE-Sim 3.0.0 COMPUTE_REPORT cycles for one GEMM layer (USER bandwidth mode).

    dataflow: 'os' | 'ws' | 'is'; R x C array; ifmap M x K, filter K x N, ofmap M x N;
    SRAM sizes in KB (integers, as SCALE-Sim parses them); bandwidths in words/cycle
    (ifmap_bw = [layout] IfmapSRAMBankBandwidth, filter_bw = [layout]
    FilterSRAMBankBandwidth, ofmap_bw = first entry of [architecture_presets] Bandwidth).

    Returns dict(total=..., total_incl_prefetch=..., stall=...); with details=True it
    also returns DRAM traffic/timing figures of the DETAILED_ACCESS_REPORT.
    """
    df = dataflow.lower()
    if_pf, fl_pf, if_dem, fl_dem, of_dem = _operands(df, R, C, M, N, K)
    nrows = of_dem.shape[0]
    assert if_dem.shape[0] == nrows and fl_dem.shape[0] == nrows

    ibuf = _ReadBuffer(ifmap_kb, ifmap_bw, if_pf, if_dem)
    fbuf = _ReadBuffer(filter_kb, filter_bw, fl_pf, fl_dem)
    obuf = _WriteBuffer(ofmap_kb, ofmap_bw)

    # Rows in which a read buffer misses (independent of timing).
    read_rows = {}
    for which, buf in ((0, ibuf), (1, fbuf)):
        for row, k in buf.events:
            read_rows.setdefault(row, ([], []))[which].append(k)
    read_order = sorted(read_rows)

    cnt = (of_dem >= 0).sum(axis=1).astype(np.int64)       # ofmap words per row
    E = np.concatenate([[0], np.cumsum(cnt)])
    nz = np.nonzero(cnt)[0]
    next_nz = np.full(nrows + 1, nrows, dtype=np.int64)     # first row >= r with words
    idx = np.searchsorted(nz, np.arange(nrows + 1), side="left")
    ok = idx < nz.size
    next_nz[ok] = nz[idx[ok]]

    stall, r, ri, out_last = 0, 0, 0, None
    while True:
        r_read = read_order[ri] if ri < len(read_order) else nrows
        r_write = obuf.next_event_row(r, stall, E, next_nz, nrows)
        row = min(r_read, r_write)
        if row >= nrows:
            obuf.bulk(int(E[nrows] - E[r]))
            break
        obuf.bulk(int(E[row] - E[r]))
        cycle = row + stall
        ks_if, ks_fl = read_rows.get(row, ((), ()))
        s_if = _read_row_stall(ibuf, ks_if, cycle)
        s_fl = _read_row_stall(fbuf, ks_fl, cycle)
        s_of = obuf.row(cycle, int(cnt[row]))
        stall += int(max(s_if, s_fl, s_of))
        if row == nrows - 1:
            out_last = cycle + s_of
        if row == r_read:
            ri += 1
        r = row + 1
        if r >= nrows:
            break
    if out_last is None:
        out_last = nrows - 1 + stall
    total = int(out_last)

    # End of layer: everything still in the ofmap SRAM drains, back to back.
    obuf._flush()
    start = total
    while obuf.nlines > 0:
        start = obuf.drain(start) + 1
    ofmap_stop = max(obuf.drain_ends)
    first_fill = max(ibuf.init_lines, fbuf.init_lines)    # the fill ends at cycle -1
    out = dict(total=total, total_incl_prefetch=int(ofmap_stop + first_fill), stall=stall)
    if details:
        out.update(
            ifmap_dram_reads=ibuf.dram_reads(), filter_dram_reads=fbuf.dram_reads(),
            ofmap_dram_writes=obuf.writes,
            ifmap_dram_start=-ibuf.init_lines, filter_dram_start=-fbuf.init_lines,
            ifmap_prefetches=len(ibuf.events), filter_prefetches=len(fbuf.events),
            ofmap_dram_start=obuf.first_drain_start, ofmap_dram_stop=ofmap_stop,
            demand_rows=nrows,
        )
    return out
