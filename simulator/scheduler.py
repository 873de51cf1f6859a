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


def peak_by_sort(grant: np.ndarray, end: np.ndarray, weight_bytes: np.ndarray) -> int:
    """Peak of the running sum of +bytes at each grant and -bytes at each end, releases first
    at equal times, by sorting every event (bytes; the fallback for `schedule`'s online peak)."""
    if grant.size == 0:
        return 0
    times = np.concatenate([grant, end])
    delta = np.concatenate([weight_bytes, -weight_bytes])
    order = np.lexsort((delta, times))
    return max(0, int(np.cumsum(delta[order]).max()))


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
    tile_weight_bytes: np.ndarray,  # (n_tiles,) of tile_bytes, the weight+index bytes a tile holds on chip
    slots: int,
    ideal_memory: bool,
    num: int,
    den: int,
    latency: int,
    record: bool,
):
    """Schedules every tile and write-back; returns per-op aggregates and, when `record`,
    every tile's times (else those four arrays are empty: at ~20 M tiles, writing them
    costs as much as the scheduling itself).

    Returns (tile_req, tile_grant, tile_start, tile_end, op_first, op_done, op_grant,
    op_busy, op_dram, op_stall, channel_busy, peak, peak_exact), all times in cycles:
    op_first: request of the op's first tile (a write-back: its grant); op_busy: compute
    cycles; op_dram: bytes over the channel; op_stall: memory-stall cycles (a tile starting
    after its engine and its op's inputs were ready: start - max(previous end, inputs done));
    peak: peak on-chip weight+index bytes, a tile holding its slot from grant to compute
    end (releases first on ties). It is kept online: grants come in time order, and a
    stream holds at most `slots` tiles, so the releases due by a grant are applied just
    before it. peak_exact is False if a grant ever ran backwards (only possible for a
    transfer that bypasses a busy channel); the caller then recomputes the peak from the
    recorded times.

    A tile's data arrives at grant + occupancy + latency (or at its request, bypassing the channel)."""
    n_ops = op_stream.shape[0]
    n_tiles = tile_bytes.shape[0]
    n_rec = n_tiles if record else 0
    tile_req = np.empty(n_rec, np.int64)
    tile_grant = np.empty(n_rec, np.int64)
    tile_start = np.empty(n_rec, np.int64)
    tile_end = np.empty(n_rec, np.int64)
    op_first = np.full(n_ops, -1, np.int64)
    op_done = np.full(n_ops, -1, np.int64)
    op_grant = np.full(n_ops, -1, np.int64)
    op_busy = np.zeros(n_ops, np.int64)
    op_dram = np.zeros(n_ops, np.int64)
    op_stall = np.zeros(n_ops, np.int64)

    # Each engine stream's ops in program order (sop[sop_ptr[s]:sop_ptr[s + 1]]); a stream
    # walks its ops' contiguous tile ranges with a cursor instead of a per-tile index.
    sop_ptr = np.zeros(3, np.int64)
    n_wb = 0
    for o in range(n_ops):
        if op_stream[o] == 2:
            n_wb += 1
        elif op_tile_ptr[o + 1] > op_tile_ptr[o]:
            sop_ptr[op_stream[o] + 1] += 1
    sop_ptr[2] += sop_ptr[1]
    sop = np.empty(sop_ptr[2], np.int64)
    fill_s = sop_ptr[:2].copy()
    for o in range(n_ops):
        if op_stream[o] < 2 and op_tile_ptr[o + 1] > op_tile_ptr[o]:
            sop[fill_s[op_stream[o]]] = o
            fill_s[op_stream[o]] += 1
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
    cur = sop_ptr[:2].copy()  # per stream: index into sop of the current op
    nxt = np.zeros(2, np.int64)  # per stream: next tile to request
    for s in range(2):
        if cur[s] < sop_ptr[s + 1]:
            nxt[s] = op_tile_ptr[sop[cur[s]]]
    # per stream: the ends (and weight bytes) of its last `slots` tiles, oldest at
    # ring[s, rix[s]] (zeros before the first `slots` tiles: a free slot never delays a
    # request); the newest held[s] of them are still on chip for the peak occupancy
    ring = np.zeros((2, slots), np.int64)
    ring_w = np.zeros((2, slots), np.int64)
    rix = np.zeros(2, np.int64)
    held = np.zeros(2, np.int64)
    last_end = np.zeros(2, np.int64)
    channel_free = np.int64(0)
    channel_busy = np.int64(0)
    remaining = n_tiles + n_wb
    occ_bytes = np.int64(0)
    peak = np.int64(0)
    last_grant = np.int64(0)
    peak_exact = True

    while remaining > 0:
        best_req = INF
        best_kind = -1  # 0/1 stream, 2 write-back
        for s in range(2):
            if cur[s] >= sop_ptr[s + 1]:
                continue
            o = sop[cur[s]]
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
            req = max(req, ring[s, rix[s]])
            if req < best_req:
                best_req = req
                best_kind = s
        if hsize > 0 and (ht[0] < best_req or best_kind < 0):
            best_req = ht[0]
            best_kind = 2
        if best_kind < 0:
            raise RuntimeError("scheduler deadlock: the op graph is not in topological order")

        if best_kind == 2:
            o = hw[0]
            hsize = _heap_pop(ht, hw, hsize)
            g, occ = _transfer(best_req, op_wb_bytes[o], ideal_memory, channel_free, num, den)
            if occ:
                channel_free = g + occ
                channel_busy += occ
            op_grant[o] = g
            op_first[o] = g
            if not ideal_memory:
                op_dram[o] = op_wb_bytes[o]
            hsize = _complete(o, g + occ, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, hsize)
            remaining -= 1
            continue

        s = best_kind
        o = sop[cur[s]]
        t = nxt[s]
        if t == op_tile_ptr[o]:
            op_first[o] = best_req
        t_last = op_tile_ptr[o + 1] - 1
        ready = op_ready[o]
        req = best_req
        # The other stream's candidate cannot change until an op completes, so keep issuing
        # this stream's tiles while the outer loop would pick them anyway (same decisions).
        other = 1 - s
        other_req = INF
        if cur[other] < sop_ptr[other + 1] and op_ready[sop[cur[other]]] >= 0:
            other_req = max(op_ready[sop[cur[other]]], ring[other, rix[other]])
        busy = np.int64(0)
        dram = np.int64(0)
        stall = np.int64(0)
        while True:
            nbytes = tile_bytes[t]
            g, occ = _transfer(req, nbytes, ideal_memory, channel_free, num, den)
            arrival = g
            if occ:
                channel_free = g + occ
                channel_busy += occ
                arrival = g + occ + latency
            prev_end = last_end[s]
            st = max(arrival, prev_end)
            cyc = tile_cycles[t]
            end = st + cyc
            busy += cyc
            if not ideal_memory:
                dram += nbytes
            stall += max(np.int64(0), st - max(prev_end, ready))
            if record:
                tile_req[t] = req
                tile_grant[t] = g
                tile_start[t] = st
                tile_end[t] = end
            last_end[s] = end
            # on-chip occupancy: release the held tiles that ended by this grant (oldest
            # first: ends are in order within a stream), then hold this one
            if g < last_grant:
                peak_exact = False
            last_grant = g
            for q in range(2):
                while held[q] > 0:
                    k = rix[q] - held[q]
                    k = k + slots if k < 0 else k
                    if ring[q, k] > g:
                        break
                    occ_bytes -= ring_w[q, k]
                    held[q] -= 1
            if held[s] == slots:  # the slot about to be reused still holds a tile: grants out of order
                peak_exact = False
            else:
                held[s] += 1
            wt = tile_weight_bytes[t]
            occ_bytes += wt
            if occ_bytes > peak:
                peak = occ_bytes
            r = rix[s]
            ring[s, r] = end
            ring_w[s, r] = wt
            r += 1
            rix[s] = 0 if r == slots else r
            remaining -= 1
            if t == t_last:
                hsize = _complete(o, end, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, hsize)
                cur[s] += 1
                if cur[s] < sop_ptr[s + 1]:
                    nxt[s] = op_tile_ptr[sop[cur[s]]]
                break
            t += 1  # same op: its inputs are known to be done
            nxt[s] = t
            req = max(ready, ring[s, rix[s]])
            if req > other_req or (req == other_req and other < s):
                break
            if hsize > 0 and ht[0] < req:
                break
        op_busy[o] += busy
        op_dram[o] += dram
        op_stall[o] += stall
    return (tile_req, tile_grant, tile_start, tile_end, op_first, op_done, op_grant, op_busy, op_dram, op_stall,
            channel_busy, peak, peak_exact)
