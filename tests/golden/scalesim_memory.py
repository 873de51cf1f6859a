"""Golden reference: SCALE-Sim 3.0.0's cycle accounting of one GEMM layer with DRAM stalls.

Plain and literal, for small cases only. It builds the operand prefetch orders and the three
demand matrices (one row per stall-free cycle, -1 = no request) the way SCALE-Sim's compute
models do, then walks the rows one by one and the words of each row one by one through two
double-buffered read SRAMs (ifmap, filter) and the ofmap write SRAM, keeping the same state
SCALE-Sim keeps (hash sets and a sliding window of them, the time the last prefetch came
back, the lines waiting in the write buffer and its free space).

Scope: GEMM mode (ifmap M x K, filter K x N, ofmap M x N), USER bandwidth mode, no custom
layout, no sparsity, no Ramulator trace; word = 1 byte, so sizes are words and times cycles.
It shares no code with simulator/scalesim/memory.py (the fast model it checks).
"""

from __future__ import annotations

import math

import numpy as np


# ------------------------------------------------------------------ matrices


def pad(mat: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """mat in the top-left corner of a rows x cols matrix of -1 (no request)."""
    out = np.full((rows, cols), -1, dtype=np.int64)
    out[: mat.shape[0], : mat.shape[1]] = mat
    return out


def nulls(rows: int, cols: int) -> np.ndarray:
    return np.full((rows, cols), -1, dtype=np.int64)


def skew(mat: np.ndarray) -> np.ndarray:
    """Column c delayed by c rows (systolic pipeline fill and drain)."""
    rows, cols = mat.shape
    out = nulls(rows + cols - 1, cols)
    for c in range(cols):
        out[c : c + rows, c] = mat[:, c]
    return out


def antidiagonal_order(mat: np.ndarray) -> list[int]:
    """Entries read anti-diagonal by anti-diagonal, bottom row first in each."""
    rows, cols = mat.shape
    order = []
    for diag in range(rows + cols - 1):
        for r in range(min(diag, rows - 1), -1, -1):
            c = diag - r
            if c < cols:
                order.append(int(mat[r, c]))
    return order


def operands(M: int, N: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Element ids: ifmap A[m, k] = m*K + k, filter B[k, n] = n*K + k."""
    A = np.array([[m * K + k for k in range(K)] for m in range(M)], dtype=np.int64)
    B = np.array([[n * K + k for n in range(N)] for k in range(K)], dtype=np.int64)
    return A, B


def blocks(mat: np.ndarray, width: int) -> list[np.ndarray]:
    """mat cut into column blocks of `width`, each padded with -1 to the full width."""
    n = math.ceil(mat.shape[1] / width)
    return [pad(mat[:, f * width : (f + 1) * width], mat.shape[0], width) for f in range(n)]


def prefetch_orders(df: str, R: int, C: int, M: int, N: int, K: int):
    """(ifmap order, filter order): the fold blocks stacked, -1 padding included."""
    A, B = operands(M, N, K)
    if df == "os":
        ifmap = antidiagonal_order(np.concatenate(blocks(A.T, R)))
        filt = antidiagonal_order(np.concatenate(blocks(B, C)))
    elif df == "ws":
        ifmap = antidiagonal_order(np.concatenate(blocks(A, R)))
        filt = [int(x) for x in np.concatenate(blocks(B, C)).ravel()]       # row-major
    else:
        ifmap = [int(x) for x in np.concatenate(blocks(A.T, C)).ravel()]    # row-major
        filt = antidiagonal_order(np.concatenate(blocks(B.T, R)))
    return ifmap, filt


def os_fold(A, B, R, C, K, fr, fc):
    """One output-stationary fold: A^T rows and B rows streamed in skewed, outputs out."""
    M, N = A.shape[0], B.shape[1]
    a = np.concatenate([pad(A.T[:, fr * R : (fr + 1) * R], K, R), nulls(C - 1, R)])
    b = np.concatenate([pad(B[:, fc * C : (fc + 1) * C], K, C), nulls(R - 1, C)])
    o = np.zeros((min(R, M - fr * R), min(C, N - fc * C)), dtype=np.int64)  # 0 = a write
    o = pad(o, R, C)[::-1]                 # outputs leave from the bottom edge
    o = np.concatenate([nulls(K - 1, C), o])
    return skew(a), skew(b), skew(o)


def ws_fold(A, B, R, C, M, fr, fc):
    """One weight-stationary fold: R weight rows loaded (bottom first), A streamed in."""
    N = B.shape[1]
    a = np.concatenate([nulls(R, R), pad(A[:, fr * R : (fr + 1) * R], M, R), nulls(C - 1, R)])
    w = pad(B[fr * R : (fr + 1) * R, fc * C : (fc + 1) * C], R, C)[::-1]
    w = np.concatenate([w, nulls(R + C + M - 2, C)])
    o = pad(np.zeros((M, min(C, N - fc * C)), dtype=np.int64), M, C)
    o = np.concatenate([nulls(2 * R - 1, C), o])
    return skew(a), w, skew(o)


def is_fold(A, B, R, C, N, fr, fc):
    """One input-stationary fold: R rows of A^T loaded (bottom first), B^T streamed in."""
    M, K = A.shape
    x = pad(A.T[fr * R : (fr + 1) * R, fc * C : (fc + 1) * C], R, C)[::-1]
    x = np.concatenate([x, nulls(R + C + N - 2, C)])
    b = np.concatenate([nulls(R, R), pad(B[fr * R : (fr + 1) * R, :].T, N, R), nulls(C - 1, R)])
    o = pad(np.zeros((N, min(C, M - fc * C)), dtype=np.int64), N, C)
    o = np.concatenate([nulls(2 * R - 1, C), o])
    return x, skew(b), skew(o)


def demand_matrices(df: str, R: int, C: int, M: int, N: int, K: int):
    """(ifmap, filter, ofmap) demand matrices: folds stacked, column folds outermost."""
    A, B = operands(M, N, K)
    col_folds = math.ceil((M if df == "is" else N) / C)
    row_folds = math.ceil((M if df == "os" else K) / R)
    parts = []
    for fc in range(col_folds):
        for fr in range(row_folds):
            if df == "os":
                parts.append(os_fold(A, B, R, C, K, fr, fc))
            elif df == "ws":
                parts.append(ws_fold(A, B, R, C, M, fr, fc))
            else:
                parts.append(is_fold(A, B, R, C, N, fr, fc))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


# ------------------------------------------------------------------ read SRAM


class ReadBuffer:
    """Double-buffered ifmap/filter SRAM with hash sets and a sliding active window."""

    def __init__(self, size_kb: int, bw: int, prefetch_order: list[int]):
        total = 1024 * size_kb
        active = math.ceil(total * 0.5)
        prefetch = total - active
        per_set = math.ceil(total / 100)
        # Hash sets: the real words in prefetch order, per_set to a set, plus the last
        # (possibly empty) set.
        self.sets = [set()]
        for addr in prefetch_order:
            if addr != -1:
                self.sets[-1].add(addr)
                if len(self.sets[-1]) == per_set:
                    self.sets.append(set())
        self.set_of = {a: i for i, s in enumerate(self.sets) for a in s}
        L = len(self.sets)
        self.active_sets = min(math.ceil(active / per_set), L)
        self.step_sets = min(math.ceil(prefetch / per_set), L - self.active_sets)
        self.window = [0, self.active_sets]             # [start, end) of the active sets
        # Initial fill: lines of bw words, requested so that the last one is back at -1.
        lines_in_order = math.ceil(len(prefetch_order) / bw)
        self.fill_lines = min(math.ceil(active / bw), lines_in_order)
        self.last_prefetch_back = -1
        self.lines_per_prefetch = math.ceil(prefetch / bw)
        self.dram_reads = self.fill_lines * bw
        self.bw = bw

    def hit(self, addr: int) -> bool:
        start, end = self.window
        s = self.set_of[addr]
        if start < end:
            return start <= s < end
        return s >= start or s < end                   # the window wraps around

    def new_prefetch(self) -> None:
        L = len(self.sets)
        start = (self.window[0] + self.step_sets) % L
        self.window = [start, (start + self.active_sets) % L]
        # Its lines are requested one per cycle right after the previous prefetch came
        # back; each returns 1 cycle after its request.
        self.last_prefetch_back = self.last_prefetch_back + self.lines_per_prefetch + 1
        self.dram_reads += self.lines_per_prefetch * self.bw

    def read_row(self, cycle: int, row) -> int:
        """Cycle at which the row's reads are served (cycle + 1 when all hit)."""
        offset = 1                                     # hit latency
        for addr in row:
            if addr == -1:
                continue
            while not self.hit(int(addr)):
                self.new_prefetch()
                shortfall = self.last_prefetch_back - (cycle + offset)
                offset += shortfall
                if shortfall > 0:
                    offset += shortfall                # SCALE-Sim counts lateness twice
        return cycle + offset


# ------------------------------------------------------------------ ofmap SRAM


class WriteBuffer:
    """Ofmap SRAM: words gather into lines of bw; half the SRAM drains to DRAM at a time."""

    def __init__(self, size_kb: int, bw: int):
        self.total = 1024 * size_kb
        self.active = math.ceil(self.total * 0.5)
        self.lines_per_drain = math.ceil((self.total - self.active) / bw)
        self.bw = bw
        self.free = self.total
        self.open_line = 0                             # words in the line being filled
        self.lines = []                                # closed lines waiting: words in each
        self.drain_end = 0
        self.drain_ends = []
        self.dram_writes = 0

    def close_line(self) -> None:
        if self.open_line:
            self.lines.append(self.open_line)
            self.open_line = 0

    def drain(self, start: int) -> None:
        self.close_line()
        chunk = self.lines[: self.lines_per_drain]
        del self.lines[: self.lines_per_drain]
        data = len(chunk) * self.bw - (self.bw - chunk[-1])   # only the last line's holes
        self.free += data
        self.dram_writes += data
        self.drain_end = start + len(chunk) - 1        # one line a cycle, latency 0
        self.drain_ends.append(self.drain_end)

    def write_row(self, cycle: int, words: int) -> int:
        """Cycle at which the row's writes are done (cycle, unless the SRAM was full)."""
        current = cycle
        for _ in range(words):
            self.free -= 1
            self.open_line += 1
            if self.open_line == self.bw:
                self.close_line()
            if current < self.drain_end:
                if self.free <= 0:
                    current = self.drain_end           # wait for the running drain
            elif self.free < self.active:
                self.drain(current)
        return current

    def drain_all(self, cycle: int) -> None:
        self.close_line()
        while self.lines:
            self.drain(cycle)
            cycle = self.drain_end + 1


# ------------------------------------------------------------------ the layer


def golden_layer(dataflow: str, R: int, C: int, M: int, N: int, K: int,
                 ifmap_kb: int, filter_kb: int, ofmap_kb: int,
                 ifmap_bw: int, filter_bw: int, ofmap_bw: int) -> dict:
    """SCALE-Sim 3.0.0 COMPUTE_REPORT cycles and DRAM word counts, by walking every row."""
    if_order, fl_order = prefetch_orders(dataflow, R, C, M, N, K)
    if_dem, fl_dem, of_dem = demand_matrices(dataflow, R, C, M, N, K)
    ifmap = ReadBuffer(ifmap_kb, ifmap_bw, if_order)
    filt = ReadBuffer(filter_kb, filter_bw, fl_order)
    ofmap = WriteBuffer(ofmap_kb, ofmap_bw)
    stall = 0
    ofmap_done = []
    for i in range(of_dem.shape[0]):
        cycle = i + stall
        if_stall = ifmap.read_row(cycle, if_dem[i]) - cycle - 1
        fl_stall = filt.read_row(cycle, fl_dem[i]) - cycle - 1
        ofmap_done.append(ofmap.write_row(cycle, int(np.sum(of_dem[i] != -1))))
        stall += max(if_stall, fl_stall, ofmap_done[-1] - cycle)
    total = max(ofmap_done)
    ofmap.drain_all(ofmap_done[-1])
    dram_start = min(-ifmap.fill_lines, -filt.fill_lines)
    return dict(
        compute_cycles=of_dem.shape[0] - 1,
        total_cycles=total,
        total_cycles_incl_prefetch=max(ofmap.drain_ends) - dram_start,
        stall_cycles=stall,
        ifmap_dram_reads=ifmap.dram_reads,
        filter_dram_reads=filt.dram_reads,
        ofmap_dram_writes=ofmap.dram_writes,
    )
