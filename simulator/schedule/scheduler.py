"""Event-driven scheduler at tile granularity (numba).

The machine: engine streams (0 = denser, 1 = sparser, 2 = vector unit; the denser and
sparser engine are one stream when time-multiplexed on one array), a write-back stream (3)
for the outputs that leave the chip, the
buffers' slots (simulator/memory/buffers.py) and the DRAM (simulator/memory/dram.py). The
rules, which the golden reference in tests/ implements cycle by cycle:

1. Each engine runs its tiles in program order (ops in topological order, tiles in order).
2. An engine may request tile k's operands once its slot is free (tile k - slots has finished
   computing), every predecessor op of tile k's op is done, and it has requested tile k - 1
   (requests in program order): req = max(deps done, slot free, previous request).
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

from simulator.memory.buffers import new_slot_state, occupy, slot_free_at
from simulator.memory.dram import PORTS, deal, deal_part, dram_request, take

INF = np.int64(1) << np.int64(62)
ENGINES = 3  # engine streams 0..2; stream 3 is the write-back
WB = 3
# st: the write-back heap's size and the tiles and write-backs left to issue, kept in an
# array so helpers can update them in place
HSIZE, REMAINING = 0, 1


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
    sop_ptr = np.zeros(ENGINES + 1, np.int64)
    n_wb = 0
    for o in range(n_ops):
        if op_stream[o] == WB:
            n_wb += 1
        elif op_tile_ptr[o + 1] > op_tile_ptr[o]:
            sop_ptr[op_stream[o] + 1] += 1
    for q in range(ENGINES):
        sop_ptr[q + 1] += sop_ptr[q]
    sop = np.empty(sop_ptr[ENGINES], np.int64)
    fill = sop_ptr[:ENGINES].copy()
    for o in range(n_ops):
        if op_stream[o] < WB and op_tile_ptr[o + 1] > op_tile_ptr[o]:
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


@njit(cache=True, inline="always")
def _complete(o: int, t: int, op_done: np.ndarray, op_stream: np.ndarray, rev_ptr: np.ndarray, rev_idx: np.ndarray,
              pending: np.ndarray, ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray, st: np.ndarray) -> None:
    """Marks op o done at t and moves write-backs whose inputs are now all done to the heap."""
    op_done[o] = t
    for k in range(rev_ptr[o], rev_ptr[o + 1]):
        d = rev_idx[k]
        if op_stream[d] != WB:
            continue
        if t > ready_at[d]:
            ready_at[d] = t
        pending[d] -= 1
        if pending[d] == 0:
            st[HSIZE] = _heap_push(ht, hw, st[HSIZE], ready_at[d], d)


@njit(cache=True, inline="always")
def _inputs_done(o: int, op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_done: np.ndarray,
                 op_ext: np.ndarray) -> int:
    """Cycle every predecessor of op o is done (those scheduled before this call: op_ext[o]),
    or -1 while one is not."""
    req = op_ext[o]
    for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
        dd = op_done[op_dep_idx[d]]
        if dd < 0:
            return -1
        req = max(req, dd)
    return req


@njit(cache=True, inline="always")
def _writeback(ideal: bool, kind: int, num: np.ndarray, den: np.ndarray, interleave: int, m_free: np.ndarray,
               m_busy: np.ndarray, m_ptr: np.ndarray, op_wb_bytes: np.ndarray,
               op_first: np.ndarray, op_grant: np.ndarray, op_dram: np.ndarray, ht: np.ndarray, hw: np.ndarray,
               st: np.ndarray) -> tuple[int, int]:
    """Sends the oldest ready write-back to the DRAM; returns (op, cycle its bytes have left)."""
    req, o = ht[0], hw[0]
    st[HSIZE] = _heap_pop(ht, hw, st[HSIZE])
    g, leave = dram_request(req, 0, 0, op_wb_bytes[o], ideal, kind, num, den, interleave, m_free, m_busy, m_ptr)
    op_grant[o] = g
    op_first[o] = g
    if not ideal:
        op_dram[o] = op_wb_bytes[o]
    return o, leave


@njit(cache=True)
def _init(op_stream: np.ndarray, op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_tile_ptr: np.ndarray,
          n_tiles: int, op_ext: np.ndarray) -> tuple:
    """Start state: the streams' op lists, successor edges, each write-back's inputs not yet
    done, the write-back heap (those with none, at op_ext), st (its size, and the number of
    tiles and write-backs to issue) and each stream's cursor (current op as an index into
    sop, next tile)."""
    sop_ptr, sop, n_wb = _stream_ops(op_stream, op_tile_ptr)
    rev_ptr, rev_idx = _reverse_edges(op_dep_ptr, op_dep_idx)
    pending = op_dep_ptr[1:] - op_dep_ptr[:-1]
    ht, hw = np.empty(n_wb + 1, np.int64), np.empty(n_wb + 1, np.int64)
    st = np.zeros(2, np.int64)
    st[REMAINING] = n_tiles + n_wb
    for o in range(op_stream.shape[0]):
        if op_stream[o] == WB and pending[o] == 0:
            st[HSIZE] = _heap_push(ht, hw, st[HSIZE], op_ext[o], o)
    cur, nxt = sop_ptr[:ENGINES].copy(), np.zeros(ENGINES, np.int64)
    for s in range(ENGINES):
        if cur[s] < sop_ptr[s + 1]:
            nxt[s] = op_tile_ptr[sop[cur[s]]]
    return sop_ptr, sop, rev_ptr, rev_idx, pending, ht, hw, st, cur, nxt


@njit(cache=True)
def new_machine(slots: int, n_dram: int) -> tuple:
    """The machine's state between schedule() calls: per engine stream its last compute end and
    last request, the slots, the DRAM resources' free cycle and busy cycles and the channel
    pointer, and [on-chip bytes, peak, latest grant, online peak exact (1/0)]."""
    return (np.zeros(ENGINES, np.int64), np.zeros(ENGINES, np.int64), new_slot_state(slots),
            np.zeros(n_dram, np.int64), np.zeros(n_dram, np.int64), np.zeros(1, np.int64),
            np.array([0, 0, 0, 1], np.int64))


@njit(cache=True)
def _writeback_event(ideal: bool, kind: int, num: np.ndarray, den: np.ndarray, interleave: int, m_free: np.ndarray,
                     m_busy: np.ndarray, m_ptr: np.ndarray, op_wb_bytes: np.ndarray,
                     op_first: np.ndarray, op_grant: np.ndarray, op_dram: np.ndarray, op_done: np.ndarray,
                     op_stream: np.ndarray, rev_ptr: np.ndarray, rev_idx: np.ndarray, pending: np.ndarray,
                     ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray, st: np.ndarray) -> None:
    """Rule 5: the oldest ready write-back goes to the DRAM; it is done when its bytes have left."""
    o, leave = _writeback(ideal, kind, num, den, interleave, m_free, m_busy, m_ptr, op_wb_bytes, op_first, op_grant,
                          op_dram, ht, hw, st)
    _complete(o, leave, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, st)


@njit(cache=True)
def _finish_op(s: int, o: int, end: int, op_done: np.ndarray, op_stream: np.ndarray, rev_ptr: np.ndarray,
               rev_idx: np.ndarray, pending: np.ndarray, ready_at: np.ndarray, ht: np.ndarray, hw: np.ndarray,
               st: np.ndarray, cur: np.ndarray, nxt: np.ndarray, sop_ptr: np.ndarray, sop: np.ndarray,
               op_tile_ptr: np.ndarray) -> None:
    """Rule 5: op o's last tile ends at `end`; stream s moves on to its next op's first tile."""
    _complete(o, end, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, st)
    cur[s] += 1
    if cur[s] < sop_ptr[s + 1]:
        nxt[s] = op_tile_ptr[sop[cur[s]]]


@njit(cache=True)
def _next_request(cur: np.ndarray, sop_ptr: np.ndarray, sop: np.ndarray, op_ready: np.ndarray, op_dep_ptr: np.ndarray,
                  op_dep_idx: np.ndarray, op_done: np.ndarray, op_ext: np.ndarray, slot: tuple,
                  last_req: np.ndarray) -> tuple[int, int]:
    """Rule 2: each stream's next request (its next op's inputs done, a slot free, after its
    previous request); the earliest and its stream (ties: the lower id), (INF, 0) when no
    stream can request. Learns op_ready of the ops it looks at."""
    req, s = INF, 0
    for q in range(ENGINES):
        if cur[q] < sop_ptr[q + 1]:
            oo = sop[cur[q]]
            if op_ready[oo] < 0:
                op_ready[oo] = _inputs_done(oo, op_dep_ptr, op_dep_idx, op_done, op_ext)
            if op_ready[oo] >= 0:
                rq = max(op_ready[oo], slot_free_at(slot, q), last_req[q])
                if rq < req:
                    req, s = rq, q
    return req, s


@njit(cache=True)
def _first_other(s: int, cur: np.ndarray, sop_ptr: np.ndarray, sop: np.ndarray, op_ready: np.ndarray, slot: tuple,
                 last_req: np.ndarray) -> tuple[int, int]:
    """Rule 2 for the streams other than s whose next op's inputs are known done: the earliest
    request among them and its stream (ties: the lower id); (0, INF) when there is none."""
    other, other_req = 0, INF
    for q in range(ENGINES):
        if q != s and cur[q] < sop_ptr[q + 1] and op_ready[sop[cur[q]]] >= 0:
            rq = max(op_ready[sop[cur[q]]], slot_free_at(slot, q), last_req[q])
            if rq < other_req:
                other, other_req = q, rq
    return other, other_req


@njit(cache=True)
def _event_loop(op_stream: np.ndarray, op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_ext: np.ndarray,
                op_wb_bytes: np.ndarray, op_tile_ptr: np.ndarray, tiles: tuple, mem: tuple, record: bool,
                machine: tuple, state: tuple, times: np.ndarray, per_op: np.ndarray, sums: np.ndarray, stop_op: int):
    """schedule()'s loop over events (a write-back, or a run of one stream's tiles) into times,
    per_op, sums (schedule() names their rows) and the machine, until all are issued or the next
    is a tile of an op >= stop_op (schedule_until). The tile run stays written out (as a helper
    called per event it made the loop ~5x slower); rule 2's searches are per-event calls."""
    tile_bytes, tile_cycles, tile_weight_bytes = tiles
    ideal, kind, num, den, interleave, latency = mem
    sop_ptr, sop, rev_ptr, rev_idx, pending, ht, hw, st, cur, nxt = state
    tile_req, tile_grant, tile_start, tile_end = times[0], times[1], times[2], times[3]
    op_first, op_done, op_grant, op_ready = per_op[0], per_op[1], per_op[2], per_op[3]
    op_busy, op_dram, op_stall, ready_at = sums[0], sums[1], sums[2], sums[3]
    last_end, last_req, slot, m_free, m_busy, m_ptr, sc = machine
    occ, peak, g_last, exact, n_res = sc[0], sc[1], sc[2], sc[3] == 1, num.shape[0]
    while st[REMAINING] > 0:
        req, s = _next_request(cur, sop_ptr, sop, op_ready, op_dep_ptr, op_dep_idx, op_done, op_ext, slot, last_req)
        if st[HSIZE] > 0 and (ht[0] < req or req == INF):
            _writeback_event(ideal, kind, num, den, interleave, m_free, m_busy, m_ptr, op_wb_bytes, op_first, op_grant,
                             op_dram, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, st)
            st[REMAINING] -= 1
            continue
        if req == INF:
            raise RuntimeError("scheduler deadlock: the op graph is not in topological order")
        # stream s's tiles while the loop would pick them anyway (others' candidates wait for an op)
        o, t = sop[cur[s]], nxt[s]
        if o >= stop_op:
            break
        if t == op_tile_ptr[o]:
            op_first[o] = req
        other, other_req = _first_other(s, cur, sop_ptr, sop, op_ready, slot, last_req)
        busy, dram, stall = 0, 0, 0
        while True:
            wt, nb = tile_weight_bytes[t], tile_bytes[t]
            # rule 3 (dram.dram_request): channels written out (a call per tile made edge.yaml's prefill
            # 1.5x slower: dram.take); ports (SCALE-Sim's compatible mode) through the rule itself
            if ideal or nb == 0:
                g, leave = req, req
            elif n_res == 1:
                g, leave = take(0, req, nb, num, den, m_free, m_busy)
            elif kind == PORTS:
                g, leave = dram_request(req, wt, nb - wt, 0, ideal, kind, num, den, interleave, m_free, m_busy, m_ptr)
            else:
                g, leave = INF, 0
                chunks, full, extra, short, lastj = deal(nb, n_res, interleave)
                c = m_ptr[0]
                for j in range(min(chunks, n_res)):  # the channels that get a chunk, from m_ptr on
                    gr, lr = take(c, req, deal_part(full, extra, short, lastj, interleave, j), num, den, m_free,
                                  m_busy)
                    g, leave = min(g, gr), max(leave, lr)
                    c = c + 1 if c + 1 < n_res else 0
                m_ptr[0] = c if chunks < n_res else (m_ptr[0] + chunks) % n_res
            start = max(req if (ideal or tile_bytes[t] == 0) else leave + latency, last_end[s])
            end = start + tile_cycles[t]
            busy += tile_cycles[t]
            dram += 0 if ideal else tile_bytes[t]
            stall += max(0, start - max(last_end[s], op_ready[o]))
            if record:
                tile_req[t], tile_grant[t], tile_start[t], tile_end[t] = req, g, start, end
            last_end[s] = end
            last_req[s] = req
            # on-chip bytes (buffers.py): release tiles ended by this grant, hold this one (see schedule())
            occ, held_ok = occupy(s, g, end, wt, slot, occ)
            exact = held_ok and exact and (g >= g_last or wt == 0)
            peak = max(peak, occ)
            g_last = max(g_last, g)
            st[REMAINING] -= 1
            if t == op_tile_ptr[o + 1] - 1:
                _finish_op(s, o, end, op_done, op_stream, rev_ptr, rev_idx, pending, ready_at, ht, hw, st, cur, nxt,
                           sop_ptr, sop, op_tile_ptr)
                break
            t += 1  # same op: its inputs are known to be done
            nxt[s] = t
            req = max(op_ready[o], slot_free_at(slot, s), req)
            if req > other_req or (req == other_req and other < s) or (st[HSIZE] > 0 and ht[0] < req):
                break
        op_busy[o] += busy
        op_dram[o] += dram
        op_stall[o] += stall
    sc[0], sc[1], sc[2], sc[3] = occ, peak, g_last, 1 if exact else 0


@njit(cache=True)
def schedule(
    op_stream: np.ndarray,  # (n_ops,) 0/1/2 engine stream, 3 write-back
    op_dep_ptr: np.ndarray,  # (n_ops+1,) CSR of predecessor ops
    op_dep_idx: np.ndarray,
    op_ext: np.ndarray,  # (n_ops,) cycle the op's predecessors outside this call are done (0: none)
    op_wb_bytes: np.ndarray,  # (n_ops,) bytes written by write-back ops
    op_tile_ptr: np.ndarray,  # (n_ops+1,) tiles of op o are op_tile_ptr[o]:op_tile_ptr[o+1]
    tile_bytes: np.ndarray,  # (n_tiles,) operand bytes loaded before the tile
    tile_cycles: np.ndarray,  # (n_tiles,) compute cycles
    tile_weight_bytes: np.ndarray,  # (n_tiles,) of tile_bytes, the weight+index bytes a tile holds on chip
    ideal: bool,
    kind: int,  # dram.CHANNELS or dram.PORTS
    num: np.ndarray,  # per DRAM resource: cycles per byte num / den
    den: np.ndarray,
    interleave: int,
    latency: int,
    record: bool,
    machine: tuple,  # new_machine(), updated in place: a program may be scheduled in consecutive parts
):
    """Schedules every tile and write-back; returns per-op aggregates and, when `record`,
    every tile's times (else those four arrays are empty: at ~20 M tiles, writing them
    costs as much as the scheduling itself).

    Returns (tile_req, tile_grant, tile_start, tile_end, op_first, op_done, op_grant,
    op_busy, op_dram, op_stall), all times in cycles:
    op_first: request of the op's first tile (a write-back: its grant); op_busy: compute
    cycles; op_dram: bytes over the DRAM; op_stall: memory-stall cycles (a tile starting
    after its engine and its op's inputs were ready: start - max(previous end, inputs done)).
    The machine keeps the DRAM's busy cycles summed over its resources and the peak on-chip
    weight+index bytes (a tile holds its slot from grant to compute end, releases first on
    ties), kept online; it is exact unless a tile that holds bytes is granted before a tile
    issued earlier (the caller then recomputes the peak from the recorded times). A tile that
    holds none may be: it adds nothing, and it releases only tiles that the next tile holding
    bytes, granted no earlier than every earlier grant, releases anyway; the occupancy it
    sees is at most the true one at that latest grant.

    A program whose ops split into parts such that no op of a later part can be requested
    before every op of the earlier parts is done (the layers of a decoder stack: each
    layer's ops all feed its output, which the next layer reads) gives the same schedule
    scheduled part by part with one machine as scheduled at once."""
    n_ops, n_rec = op_stream.shape[0], tile_bytes.shape[0] if record else 0
    times = np.empty((4, n_rec), np.int64)  # per tile: request, grant, start, end (when recorded)
    per_op = np.full((4, n_ops), -1, np.int64)  # op_first, op_done, op_grant, op_ready
    sums = np.zeros((4, n_ops), np.int64)  # op_busy, op_dram, op_stall, ready_at
    sums[3, :] = op_ext
    state = _init(op_stream, op_dep_ptr, op_dep_idx, op_tile_ptr, tile_bytes.shape[0], op_ext)
    _event_loop(op_stream, op_dep_ptr, op_dep_idx, op_ext, op_wb_bytes, op_tile_ptr,
                (tile_bytes, tile_cycles, tile_weight_bytes), (ideal, kind, num, den, interleave, latency), record,
                machine, state, times, per_op, sums, n_ops)
    return times[0], times[1], times[2], times[3], per_op[0], per_op[1], per_op[2], sums[0], sums[1], sums[2]


@njit(cache=True)
def schedule_until(op_stream: np.ndarray, op_dep_ptr: np.ndarray, op_dep_idx: np.ndarray, op_ext: np.ndarray,
                   op_wb_bytes: np.ndarray, op_tile_ptr: np.ndarray, tile_bytes: np.ndarray, tile_cycles: np.ndarray,
                   tile_weight_bytes: np.ndarray, ideal: bool, kind: int, num: np.ndarray, den: np.ndarray,
                   interleave: int, latency: int, machine: tuple, stop_op: int) -> tuple:
    """schedule() (unrecorded) up to the first event that is a tile of an op >= stop_op: the
    events before it are those of every program that differs from this one only in the
    tiles of those ops. Returns (state, per_op, sums, tiles) for schedule_resume; `machine`
    is left in that state too."""
    n_ops = op_stream.shape[0]
    per_op = np.full((4, n_ops), -1, np.int64)
    sums = np.zeros((4, n_ops), np.int64)
    sums[3, :] = op_ext
    state = _init(op_stream, op_dep_ptr, op_dep_idx, op_tile_ptr, tile_bytes.shape[0], op_ext)
    _event_loop(op_stream, op_dep_ptr, op_dep_idx, op_ext, op_wb_bytes, op_tile_ptr,
                (tile_bytes, tile_cycles, tile_weight_bytes), (ideal, kind, num, den, interleave, latency), False,
                machine, state, np.empty((4, 0), np.int64), per_op, sums, stop_op)
    return state, per_op, sums, tile_bytes.shape[0]


@njit(cache=True)
def _copy_machine(m: tuple) -> tuple:
    return (m[0].copy(), m[1].copy(), m[2].copy(), m[3].copy(), m[4].copy(), m[5].copy(), m[6].copy())


@njit(cache=True)
def schedule_resume(checkpoint: tuple, machine: tuple, op_stream: np.ndarray, op_dep_ptr: np.ndarray,
                    op_dep_idx: np.ndarray, op_ext: np.ndarray, op_wb_bytes: np.ndarray, op_tile_ptr: np.ndarray,
                    tile_bytes: np.ndarray, tile_cycles: np.ndarray, tile_weight_bytes: np.ndarray, ideal: bool,
                    kind: int, num: np.ndarray, den: np.ndarray, interleave: int, latency: int,
                    stop_op: int) -> tuple:
    """Finishes the schedule of a program from schedule_until(..., stop_op)'s checkpoint and
    machine (neither is changed): the program's ops and their tiles are the checkpointed
    one's, but for the tiles of ops >= stop_op, none of which has started (each such op
    must still have tiles). Returns schedule()'s per-op arrays (op_first, op_done, op_grant,
    op_busy, op_dram, op_stall) and the machine it leaves."""
    state0, per_op0, sums0, old_tiles = checkpoint
    sop_ptr, sop, rev_ptr, rev_idx, pending, ht, hw, st, cur, nxt = state0
    st, cur, nxt = st.copy(), cur.copy(), nxt.copy()
    for s in range(ENGINES):
        if cur[s] < sop_ptr[s + 1] and sop[cur[s]] >= stop_op:
            nxt[s] = op_tile_ptr[sop[cur[s]]]
    st[REMAINING] += tile_bytes.shape[0] - old_tiles
    state = (sop_ptr, sop, rev_ptr, rev_idx, pending.copy(), ht.copy(), hw.copy(), st, cur, nxt)
    per_op, sums, m = per_op0.copy(), sums0.copy(), _copy_machine(machine)
    _event_loop(op_stream, op_dep_ptr, op_dep_idx, op_ext, op_wb_bytes, op_tile_ptr,
                (tile_bytes, tile_cycles, tile_weight_bytes), (ideal, kind, num, den, interleave, latency), False,
                m, state, np.empty((4, 0), np.int64), per_op, sums, op_stream.shape[0])
    return per_op[0], per_op[1], per_op[2], sums[0], sums[1], sums[2], m
