"""Event-driven scheduler at tile granularity (numba).

The machine: engine streams (0 = denser, 1 = sparser; one stream when the engines are
time-multiplexed on one array), a write-back stream (2) for the projection outputs, the
buffers' slots (simulator/memory/buffers.py) and the DRAM (simulator/memory/dram.py). The
rules, which the golden reference in tests/ implements cycle by cycle:

1. Each engine runs its tiles in program order (ops in topological order, tiles in order).
2. An engine may request tile k's operands once its slot is free (tile k - slots has finished
   computing) and every predecessor op of tile k's op is done: req = max(deps done, slot free).
3. Requests go to the DRAM in request order (ties: the lower stream id, then program order);
   each of the transfer's parts is granted when its channel or port is free (dram.py). Its
   data arrives `latency` cycles after its last part has left.
4. Tile k starts computing at max(arrival, end[k - 1]) and ends `cycles` later.
5. A compute op is done when its last tile ends. A write-back op (the sum of a projection's
   partial outputs leaving the chip) is requested when its predecessors are done and is done
   when its last part has left the DRAM resources (no latency added).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.memory.buffers import hold, release_until, slot_free_at
from simulator.memory.dram import dram_request

INF = np.int64(1) << np.int64(62)
# scalar state of a schedule, kept in one int64 array so helpers can update it in place
OCC, PEAK, LAST_GRANT, EXACT, REMAINING, HSIZE = 0, 1, 2, 3, 4, 5


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
def _stream_ops(op_stream: np.ndarray, op_tile_ptr: np.ndarray) -> tuple:
    """Each engine stream's ops with tiles, in program order: sop[sop_ptr[s]:sop_ptr[s + 1]];
    and the number of write-backs."""
    n_ops = op_stream.shape[0]
    sop_ptr = np.zeros(3, np.int64)
    n_wb = 0
    for o in range(n_ops):
        if op_stream[o] == 2:
            n_wb += 1
        elif op_tile_ptr[o + 1] > op_tile_ptr[o]:
            sop_ptr[op_stream[o] + 1] += 1
    sop_ptr[2] += sop_ptr[1]
    sop = np.empty(sop_ptr[2], np.int64)
    fill = sop_ptr[:2].copy()
    for o in range(n_ops):
        if op_stream[o] < 2 and op_tile_ptr[o + 1] > op_tile_ptr[o]:
            sop[fill[op_stream[o]]] = o
            fill[op_stream[o]] += 1
    return sop_ptr, sop, n_wb


@njit(cache=True)
def _reverse_edges(op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray) -> tuple:
    """CSR of each op's successors."""
    n_ops = op_dep_ptr.shape[0] - 1
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
    return rev_ptr, rev_idx


@njit(cache=True)
def _complete(o: int, t: int, op_done: np.ndarray, op_stream: np.ndarray, rev_ptr: np.ndarray, rev_idx: np.ndarray,
              pending: np.ndarray, ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray, st: np.ndarray) -> None:
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
            st[HSIZE] = _heap_push(ht, hw, st[HSIZE], ready_at[d], d)


@njit(cache=True)
def _inputs_done(o: int, op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_done: np.ndarray) -> int:
    """Cycle every predecessor of op o is done, or -1 while one is not."""
    req = 0
    for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
        dd = op_done[op_dep_idx[d]]
        if dd < 0:
            return -1
        req = max(req, dd)
    return req


@njit(cache=True)
def _stream_request(s: int, cur: np.ndarray, sop_ptr: np.ndarray, sop: np.ndarray, op_ready: np.ndarray,
                    op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_done: np.ndarray, ring: np.ndarray,
                    rix: np.ndarray) -> int:
    """Request cycle of stream s's next tile, or INF when the stream is finished or its op's
    inputs are not all done yet."""
    if cur[s] >= sop_ptr[s + 1]:
        return INF
    o = sop[cur[s]]
    if op_ready[o] < 0:
        op_ready[o] = _inputs_done(o, op_dep_ptr, op_dep_idx, op_done)
        if op_ready[o] < 0:
            return INF
    return max(op_ready[o], slot_free_at(ring, rix, s))


@njit(cache=True)
def _track_occupancy(s: int, g: int, end: int, wt: int, ring: np.ndarray, ring_w: np.ndarray, rix: np.ndarray,
                     held: np.ndarray, st: np.ndarray) -> None:
    """On-chip occupancy: release the tiles that ended by this grant, hold this one, keep the
    peak. Exact while grants come in time order (else EXACT is cleared)."""
    if g < st[LAST_GRANT]:
        st[EXACT] = 0
    st[LAST_GRANT] = g
    st[OCC] = release_until(g, ring, ring_w, rix, held, st[OCC])
    if not hold(s, end, wt, ring, ring_w, rix, held):
        st[EXACT] = 0
    st[OCC] += wt
    st[PEAK] = max(st[PEAK], st[OCC])


@njit(cache=True)
def _issue_writeback(req: int, op_wb_bytes: np.ndarray, ideal: bool, kind: int, num: np.ndarray, den: np.ndarray,
                     interleave: int, mem: tuple, op_first: np.ndarray, op_grant: np.ndarray, op_dram: np.ndarray,
                     op_done: np.ndarray, op_stream: np.ndarray, rev: tuple, pending: np.ndarray,
                     ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray, st: np.ndarray) -> None:
    """Sends the oldest ready write-back to the DRAM; it is done when its bytes have left."""
    o = hw[0]
    st[HSIZE] = _heap_pop(ht, hw, st[HSIZE])
    g, leave = dram_request(req, 0, 0, op_wb_bytes[o], ideal, kind, num, den, interleave, *mem)
    op_grant[o] = g
    op_first[o] = g
    if not ideal:
        op_dram[o] = op_wb_bytes[o]
    _complete(o, leave, op_done, op_stream, rev[0], rev[1], pending, ready_at, ht, hw, st)
    st[REMAINING] -= 1


@njit(cache=True)
def _issue_stream(s: int, req: int, prog: tuple, ideal: bool, kind: int, num: np.ndarray, den: np.ndarray,
                  interleave: int, latency: int, mem: tuple, walk: tuple, slots_state: tuple, ops: tuple,
                  rec: tuple, record: bool, heap: tuple, st: np.ndarray) -> None:
    """Issues stream s's tiles from its next one while the main loop would pick them anyway:
    the other stream's candidate cannot change until an op completes (same decisions)."""
    op_tile_ptr, tile_bytes, tile_cycles, tile_weight_bytes, op_stream, rev, pending, ready_at = prog
    cur, nxt, sop_ptr, sop, op_ready, last_end = walk
    ring, ring_w, rix, held = slots_state
    op_first, op_done, op_busy, op_dram, op_stall = ops
    ht, hw = heap
    o = sop[cur[s]]
    t = nxt[s]
    if t == op_tile_ptr[o]:
        op_first[o] = req
    ready = op_ready[o]
    other = 1 - s
    other_req = INF
    if cur[other] < sop_ptr[other + 1] and op_ready[sop[cur[other]]] >= 0:
        other_req = max(op_ready[sop[cur[other]]], slot_free_at(ring, rix, other))
    busy, dram, stall = 0, 0, 0
    while True:
        wt = tile_weight_bytes[t]
        g, leave = dram_request(req, wt, tile_bytes[t] - wt, 0, ideal, kind, num, den, interleave, *mem)
        arrival = req if (ideal or tile_bytes[t] == 0) else leave + latency
        st_ = max(arrival, last_end[s])
        end = st_ + tile_cycles[t]
        busy += tile_cycles[t]
        dram += 0 if ideal else tile_bytes[t]
        stall += max(0, st_ - max(last_end[s], ready))
        if record:
            rec[0][t], rec[1][t], rec[2][t], rec[3][t] = req, g, st_, end
        last_end[s] = end
        _track_occupancy(s, g, end, wt, ring, ring_w, rix, held, st)
        st[REMAINING] -= 1
        if t == op_tile_ptr[o + 1] - 1:
            _complete(o, end, op_done, op_stream, rev[0], rev[1], pending, ready_at, ht, hw, st)
            cur[s] += 1
            if cur[s] < sop_ptr[s + 1]:
                nxt[s] = op_tile_ptr[sop[cur[s]]]
            break
        t += 1  # same op: its inputs are known to be done
        nxt[s] = t
        req = max(ready, slot_free_at(ring, rix, s))
        if req > other_req or (req == other_req and other < s) or (st[HSIZE] > 0 and ht[0] < req):
            break
    op_busy[o] += busy
    op_dram[o] += dram
    op_stall[o] += stall


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
    ideal: bool,
    kind: int,  # dram.CHANNELS or dram.PORTS
    num: np.ndarray,  # per DRAM resource: cycles per byte num / den
    den: np.ndarray,
    interleave: int,
    latency: int,
    record: bool,
):
    """Schedules every tile and write-back; returns per-op aggregates and, when `record`,
    every tile's times (else those four arrays are empty: at ~20 M tiles, writing them
    costs as much as the scheduling itself).

    Returns (tile_req, tile_grant, tile_start, tile_end, op_first, op_done, op_grant,
    op_busy, op_dram, op_stall, dram_busy, peak, peak_exact), all times in cycles:
    op_first: request of the op's first tile (a write-back: its grant); op_busy: compute
    cycles; op_dram: bytes over the DRAM; op_stall: memory-stall cycles (a tile starting
    after its engine and its op's inputs were ready: start - max(previous end, inputs done));
    dram_busy: busy cycles summed over the DRAM's resources; peak: peak on-chip weight+index
    bytes, a tile holding its slot from grant to compute end (releases first on ties), kept
    online; peak_exact is False if a grant ever ran backwards, and the caller then recomputes
    the peak from the recorded times."""
    n_ops = op_stream.shape[0]
    n_rec = tile_bytes.shape[0] if record else 0
    rec = (np.empty(n_rec, np.int64), np.empty(n_rec, np.int64), np.empty(n_rec, np.int64), np.empty(n_rec, np.int64))
    op_first, op_done, op_grant = np.full(n_ops, -1, np.int64), np.full(n_ops, -1, np.int64), np.full(n_ops, -1, np.int64)
    op_busy, op_dram, op_stall = np.zeros(n_ops, np.int64), np.zeros(n_ops, np.int64), np.zeros(n_ops, np.int64)
    sop_ptr, sop, n_wb = _stream_ops(op_stream, op_tile_ptr)
    rev = _reverse_edges(op_dep_ptr, op_dep_idx)
    pending = op_dep_ptr[1:] - op_dep_ptr[:-1]
    ready_at = np.zeros(n_ops, np.int64)
    ht, hw = np.empty(n_wb + 1, np.int64), np.empty(n_wb + 1, np.int64)
    st = np.zeros(6, np.int64)
    st[EXACT], st[REMAINING] = 1, tile_bytes.shape[0] + n_wb
    for o in range(n_ops):
        if op_stream[o] == 2 and pending[o] == 0:
            st[HSIZE] = _heap_push(ht, hw, st[HSIZE], 0, o)
    op_ready = np.full(n_ops, -1, np.int64)  # cycle all inputs of the op are done, once known
    cur, nxt = sop_ptr[:2].copy(), np.zeros(2, np.int64)  # per stream: current op (index into sop), next tile
    for s in range(2):
        if cur[s] < sop_ptr[s + 1]:
            nxt[s] = op_tile_ptr[sop[cur[s]]]
    walk = (cur, nxt, sop_ptr, sop, op_ready, np.zeros(2, np.int64))
    slots_state = (np.zeros((2, slots), np.int64), np.zeros((2, slots), np.int64), np.zeros(2, np.int64),
                   np.zeros(2, np.int64))
    n_res = num.shape[0]
    mem = (np.zeros(n_res, np.int64), np.zeros(n_res, np.int64), np.zeros(1, np.int64), np.zeros(max(n_res, 3), np.int64))
    prog = (op_tile_ptr, tile_bytes, tile_cycles, tile_weight_bytes, op_stream, rev, pending, ready_at)
    ops = (op_first, op_done, op_busy, op_dram, op_stall)
    while st[REMAINING] > 0:
        r0 = _stream_request(0, cur, sop_ptr, sop, op_ready, op_dep_ptr, op_dep_idx, op_done, slots_state[0],
                             slots_state[2])
        r1 = _stream_request(1, cur, sop_ptr, sop, op_ready, op_dep_ptr, op_dep_idx, op_done, slots_state[0],
                             slots_state[2])
        best_req, best = (r0, 0) if r0 <= r1 else (r1, 1)
        if st[HSIZE] > 0 and (ht[0] < best_req or best_req == INF):
            _issue_writeback(ht[0], op_wb_bytes, ideal, kind, num, den, interleave, mem, op_first, op_grant,
                             op_dram, op_done, op_stream, rev, pending, ready_at, ht, hw, st)
        elif best_req == INF:
            raise RuntimeError("scheduler deadlock: the op graph is not in topological order")
        else:
            _issue_stream(best, best_req, prog, ideal, kind, num, den, interleave, latency, mem, walk, slots_state,
                          ops, rec, record, (ht, hw), st)
    return (rec[0], rec[1], rec[2], rec[3], op_first, op_done, op_grant, op_busy, op_dram, op_stall,
            mem[1].sum(), st[PEAK], st[EXACT] == 1)
