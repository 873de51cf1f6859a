"""Event-driven scheduler at tile granularity (numba).

The machine: engine streams (0 = denser, 1 = sparser; one stream when the engines are
time-multiplexed on one array), a write-back stream (2) for the projection outputs, and one
DRAM channel. The rules, which the golden reference in tests/ implements cycle by cycle:

1. Each engine runs its tiles in program order (ops in topological order, tiles in order).
2. An engine with `slots` buffer slots (2 when double-buffered) may request tile k's
   operands once tile k - slots has finished computing (its slot is free) and every
   predecessor op of tile k's op is done: req = max(deps done, end[k - slots]).
3. The channel moves one transfer at a time. When free, it serves the pending request with
   the smallest request time, ties to the lower stream id. A transfer of B bytes occupies
   it for ceil(B * num / den) cycles; the data arrives `latency` cycles after that. Zero
   bytes, or ideal memory, bypass the channel: arrival = request.
4. Tile k starts computing at max(arrival, end[k - 1]) and ends `cycles` later.
5. A compute op is done when its last tile ends. A write-back op (the sum of a projection's
   partial outputs leaving the chip) is requested when its predecessors are done and is done
   when its transfer leaves the channel (no latency added).
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.int64(1) << np.int64(62)


@njit(cache=True)
def _transfer_cycles(nbytes: int, num: int, den: int) -> int:
    return (nbytes * num + den - 1) // den


@njit(cache=True)
def _transfer(req: int, nbytes: int, ideal: bool, channel_free: int, num: int, den: int) -> tuple[int, int]:
    """(grant cycle, channel occupancy) of a request: the channel serves it when free; zero
    bytes or ideal memory bypass it (occupancy 0, granted at the request)."""
    if ideal or nbytes == 0:
        return req, 0
    return max(req, channel_free), _transfer_cycles(nbytes, num, den)


@njit(cache=True)
def _heap_push(ht: np.ndarray, hw: np.ndarray, size: int, t: int, w: int) -> int:
    """Min-heap on (t, w) stored in two arrays; returns the new size."""
    i = size
    ht[i] = t
    hw[i] = w
    while i > 0:
        parent = (i - 1) // 2
        if (ht[parent], hw[parent]) <= (ht[i], hw[i]):
            break
        ht[parent], ht[i] = ht[i], ht[parent]
        hw[parent], hw[i] = hw[i], hw[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(ht: np.ndarray, hw: np.ndarray, size: int) -> int:
    """Removes the minimum (at index 0); returns the new size."""
    size -= 1
    ht[0] = ht[size]
    hw[0] = hw[size]
    i = 0
    while True:
        left, right, small = 2 * i + 1, 2 * i + 2, i
        if left < size and (ht[left], hw[left]) < (ht[small], hw[small]):
            small = left
        if right < size and (ht[right], hw[right]) < (ht[small], hw[small]):
            small = right
        if small == i:
            break
        ht[small], ht[i] = ht[i], ht[small]
        hw[small], hw[i] = hw[i], hw[small]
        i = small
    return size


@njit(cache=True)
def _complete(o: int, t: int, op_done: np.ndarray, op_stream: np.ndarray, rev_ptr: np.ndarray, rev_idx: np.ndarray,
              pending: np.ndarray, ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray, size: int) -> int:
    """Marks op o done at t and moves write-backs whose inputs are now all done to the heap."""
    op_done[o] = t
    for k in range(rev_ptr[o], rev_ptr[o + 1]):
        d = rev_idx[k]
        if op_stream[d] != 2:
            continue
        if t > ready_at[d]:
            ready_at[d] = t
        pending[d] -= 1
        if pending[d] == 0:
            size = _heap_push(ht, hw, size, ready_at[d], d)
    return size


@njit(cache=True)
def schedule(
    op_stream: np.ndarray,  # (n_ops,) 0/1 engine stream, 2 write-back
    op_dep_ptr: np.ndarray,  # (n_ops+1,) CSR of predecessor ops
    op_dep_idx: np.ndarray,
    op_wb_bytes: np.ndarray,  # (n_ops,) bytes written by write-back ops
    op_tile_ptr: np.ndarray,  # (n_ops+1,) tiles of op o are op_tile_ptr[o]:op_tile_ptr[o+1]
    tile_bytes: np.ndarray,  # (n_tiles,) operand bytes loaded before the tile
    tile_cycles: np.ndarray,  # (n_tiles,) compute cycles
    slots: int,
    ideal_memory: bool,
    num: int,
    den: int,
    latency: int,
):
    """Returns (tile_req, tile_grant, tile_start, tile_end, op_done, op_grant, channel_busy).

    A tile's data arrives at grant + occupancy + latency (or at its request, bypassing the channel)."""
    n_ops = op_stream.shape[0]
    n_tiles = tile_bytes.shape[0]
    tile_req = np.full(n_tiles, -1, np.int64)
    tile_grant = np.full(n_tiles, -1, np.int64)
    tile_start = np.full(n_tiles, -1, np.int64)
    tile_end = np.full(n_tiles, -1, np.int64)
    op_done = np.full(n_ops, -1, np.int64)
    op_grant = np.full(n_ops, -1, np.int64)

    # Per-stream tile order (program order) and the write-back queue (ops in program order).
    stream_count = np.zeros(2, np.int64)
    for o in range(n_ops):
        if op_stream[o] < 2:
            stream_count[op_stream[o]] += op_tile_ptr[o + 1] - op_tile_ptr[o]
    s0 = np.empty(stream_count[0], np.int64)
    s1 = np.empty(stream_count[1], np.int64)
    c0 = 0
    c1 = 0
    n_wb = 0
    for o in range(n_ops):
        if op_stream[o] == 2:
            n_wb += 1
            continue
        for t in range(op_tile_ptr[o], op_tile_ptr[o + 1]):
            if op_stream[o] == 0:
                s0[c0] = t
                c0 += 1
            else:
                s1[c1] = t
                c1 += 1
    # reverse edges, and for each write-back the number of inputs not yet done
    rev_cnt = np.zeros(n_ops + 1, np.int64)
    for o in range(n_ops):
        for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
            rev_cnt[op_dep_idx[d] + 1] += 1
    rev_ptr = np.cumsum(rev_cnt)
    rev_idx = np.empty(rev_ptr[-1], np.int64)
    fill = rev_ptr[:-1].copy()
    for o in range(n_ops):
        for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
            rev_idx[fill[op_dep_idx[d]]] = o
            fill[op_dep_idx[d]] += 1
    pending = op_dep_ptr[1:] - op_dep_ptr[:-1]
    ready_at = np.zeros(n_ops, np.int64)
    ht = np.empty(n_wb + 1, np.int64)
    hw = np.empty(n_wb + 1, np.int64)
    hsize = 0
    for o in range(n_ops):
        if op_stream[o] == 2 and pending[o] == 0:
            hsize = _heap_push(ht, hw, hsize, 0, o)

    op_ready = np.full(n_ops, -1, np.int64)  # cycle all inputs of the op are done, once known
    tile_op = np.empty(n_tiles, np.int64)
    for o in range(n_ops):
        for t in range(op_tile_ptr[o], op_tile_ptr[o + 1]):
            tile_op[t] = o

    pos = np.zeros(2, np.int64)  # next tile (stream position) to request
    last_end = np.zeros(2, np.int64)
    channel_free = np.int64(0)
    channel_busy = np.int64(0)
    remaining = n_tiles + n_wb

    while remaining > 0:
        best_req = INF
        best_kind = -1  # 0/1 stream, 2 write-back
        best_idx = -1
        for s in range(2):
            n_s = s0.shape[0] if s == 0 else s1.shape[0]
            p = pos[s]
            if p >= n_s:
                continue
            t = s0[p] if s == 0 else s1[p]
            o = tile_op[t]
            req = op_ready[o]
            if req < 0:  # first look at this op: are all its inputs done?
                req = np.int64(0)
                for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
                    dd = op_done[op_dep_idx[d]]
                    if dd < 0:
                        req = np.int64(-1)
                        break
                    if dd > req:
                        req = dd
                if req < 0:
                    continue
                op_ready[o] = req
            if p >= slots:
                prev = s0[p - slots] if s == 0 else s1[p - slots]
                if tile_end[prev] > req:
                    req = tile_end[prev]
            if req < best_req:
                best_req = req
                best_kind = s
                best_idx = t
        if hsize > 0 and (ht[0] < best_req or best_kind < 0):
            best_req = ht[0]
            best_kind = 2
            best_idx = hw[0]
        if best_kind < 0:
            raise RuntimeError("scheduler deadlock: the op graph is not in topological order")

        if best_kind == 2:
            o = best_idx
            hsize = _heap_pop(ht, hw, hsize)
            g, occ = _transfer(best_req, op_wb_bytes[o], ideal_memory, channel_free, num, den)
            if occ:
                channel_free = g + occ
                channel_busy += occ
            op_grant[o] = g
            hsize = _complete(o, g + occ, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, hsize)
            remaining -= 1
            continue

        s = best_kind
        t = best_idx
        req = best_req
        # The other stream's candidate cannot change until an op completes, so keep issuing
        # this stream's tiles while the outer loop would pick them anyway (same decisions).
        other_req = INF
        other = 1 - s
        n_o = s0.shape[0] if other == 0 else s1.shape[0]
        if pos[other] < n_o:
            to = s0[pos[other]] if other == 0 else s1[pos[other]]
            oo = tile_op[to]
            if op_ready[oo] >= 0:
                other_req = op_ready[oo]
                if pos[other] >= slots:
                    pv = s0[pos[other] - slots] if other == 0 else s1[pos[other] - slots]
                    if tile_end[pv] > other_req:
                        other_req = tile_end[pv]
        n_s = s0.shape[0] if s == 0 else s1.shape[0]
        while True:
            tile_req[t] = req
            g, occ = _transfer(req, tile_bytes[t], ideal_memory, channel_free, num, den)
            tile_grant[t] = g
            arrival = g
            if occ:
                channel_free = g + occ
                channel_busy += occ
                arrival = g + occ + latency
            st = max(arrival, last_end[s])
            tile_start[t] = st
            tile_end[t] = st + tile_cycles[t]
            last_end[s] = tile_end[t]
            pos[s] += 1
            remaining -= 1
            o = tile_op[t]
            if t == op_tile_ptr[o + 1] - 1:
                hsize = _complete(o, tile_end[t], op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, hsize)
                break
            p = pos[s]
            if p >= n_s:
                break
            t = s0[p] if s == 0 else s1[p]  # same op: its inputs are known to be done
            req = op_ready[o]
            if p >= slots:
                prev = s0[p - slots] if s == 0 else s1[p - slots]
                if tile_end[prev] > req:
                    req = tile_end[prev]
            if req > other_req or (req == other_req and other < s):
                break
            if hsize > 0 and ht[0] < req:
                break
    return tile_req, tile_grant, tile_start, tile_end, op_done, op_grant, channel_busy
