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
    """Returns (tile_req, tile_grant, tile_arrival, tile_start, tile_end, op_done, op_grant, channel_busy)."""
    n_ops = op_stream.shape[0]
    n_tiles = tile_bytes.shape[0]
    tile_req = np.full(n_tiles, -1, np.int64)
    tile_grant = np.full(n_tiles, -1, np.int64)
    tile_arr = np.full(n_tiles, -1, np.int64)
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
    wb_ops = np.empty(n_wb, np.int64)
    wb_issued = np.zeros(n_wb, np.bool_)
    c = 0
    for o in range(n_ops):
        if op_stream[o] == 2:
            wb_ops[c] = o
            c += 1

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
            req = np.int64(0)
            ready = True
            for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
                dd = op_done[op_dep_idx[d]]
                if dd < 0:
                    ready = False
                    break
                if dd > req:
                    req = dd
            if not ready:
                continue
            if p >= slots:
                prev = s0[p - slots] if s == 0 else s1[p - slots]
                if tile_end[prev] > req:
                    req = tile_end[prev]
            if req < best_req:
                best_req = req
                best_kind = s
                best_idx = t
        for w in range(n_wb):
            if wb_issued[w]:
                continue
            o = wb_ops[w]
            req = np.int64(0)
            ready = True
            for d in range(op_dep_ptr[o], op_dep_ptr[o + 1]):
                dd = op_done[op_dep_idx[d]]
                if dd < 0:
                    ready = False
                    break
                if dd > req:
                    req = dd
            if ready and (req < best_req or (req == best_req and best_kind < 0)):
                best_req = req
                best_kind = 2
                best_idx = w
        if best_kind < 0:
            raise RuntimeError("scheduler deadlock: the op graph is not in topological order")

        if best_kind == 2:
            o = wb_ops[best_idx]
            wb_issued[best_idx] = True
            nbytes = op_wb_bytes[o]
            if ideal_memory or nbytes == 0:
                op_grant[o] = best_req
                op_done[o] = best_req
            else:
                g = max(best_req, channel_free)
                occ = _transfer_cycles(nbytes, num, den)
                channel_free = g + occ
                channel_busy += occ
                op_grant[o] = g
                op_done[o] = g + occ
            remaining -= 1
            continue

        s = best_kind
        t = best_idx
        tile_req[t] = best_req
        nbytes = tile_bytes[t]
        if ideal_memory or nbytes == 0:
            tile_grant[t] = best_req
            tile_arr[t] = best_req
        else:
            g = max(best_req, channel_free)
            occ = _transfer_cycles(nbytes, num, den)
            channel_free = g + occ
            channel_busy += occ
            tile_grant[t] = g
            tile_arr[t] = g + occ + latency
        st = max(tile_arr[t], last_end[s])
        tile_start[t] = st
        tile_end[t] = st + tile_cycles[t]
        last_end[s] = tile_end[t]
        pos[s] += 1
        o = tile_op[t]
        if t == op_tile_ptr[o + 1] - 1:
            op_done[o] = tile_end[t]
        remaining -= 1
    return tile_req, tile_grant, tile_arr, tile_start, tile_end, op_done, op_grant, channel_busy
