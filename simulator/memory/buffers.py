"""On-chip buffers: each engine's share of the weight, input, output and index SRAM, split
into slots, and the slots' state while the scheduler runs.

An engine with `slots` slots (2 when double-buffered) may request tile k's operands once
tile k - slots has finished computing. A tile holds its weight (+ index) bytes on chip from
its grant to the end of its compute; the peak of that sum is the reported occupancy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from simulator.config import HardwareConfig


@dataclass(frozen=True)
class Slots:
    """One slot's capacity per buffer, bytes (unlimited: no buffers configured)."""

    weight: float
    input: float
    output: float
    index: float
    unlimited: bool


def buffer_slots(hw: HardwareConfig, whole: bool) -> Slots:
    """Each buffer split evenly between the two engines (the whole of it when `whole`: one
    array time-multiplexed, or the dense baseline on a shared array), then into slots; the
    index buffer belongs to the sparser engine alone."""
    if hw.buffers is None:
        return Slots(0, 0, 0, 0, True)
    b = hw.buffers
    slots = 2 if b.double_buffering else 1
    k = 1024.0 / ((1 if whole else 2) * slots)
    return Slots(b.weight_kib * k, b.input_kib * k, b.output_kib * k, b.index_kib * 1024.0 / slots, False)


def op_buffer_slots(hw: HardwareConfig, beside_other_engine: bool) -> Slots:
    """An op's slots: the share of the buffers its engine has while the op runs. One
    time-multiplexed array: every buffer. Two fixed arrays: the engine's half, whatever runs
    (each array has its own). One array shared by width (ViTCoD): every buffer, unless the
    op splits the array's lines with an op of the other engine running beside it (the parts
    of a compressed projection, of a masked attention head), which then get half each. So
    the dense attention core, which runs on every line, and the vector unit's ops, which
    run between projections (their inputs and outputs are those projections' outputs and
    inputs), get every buffer of a shared array."""
    policy = hw.split.policy
    return buffer_slots(hw, policy == "time_multiplexed" or (policy == "shared_width" and not beside_other_engine))


def slot_count(hw: HardwareConfig) -> int:
    return 2 if (hw.buffers is None or hw.buffers.double_buffering) else 1


@njit(cache=True)
def new_slot_state(slots: int) -> np.ndarray:
    """Per engine stream s, row s holds: the compute ends of its last `slots` tiles
    [0, slots), their weight bytes [slots, 2 slots), the index of its next slot (2 slots) and
    how many of its tiles are still on chip (2 slots + 1). Ends are 0 before the first
    `slots` tiles: a free slot never delays a request."""
    return np.zeros((3, 2 * slots + 2), np.int64)  # denser, sparser, vector unit


@njit(cache=True, inline="always")
def slot_free_at(state: np.ndarray, s: int) -> int:
    """Cycle stream s's next slot is free: the compute end of the tile that used it last."""
    return state[s, state[s, state.shape[1] - 2]]


@njit(cache=True, inline="always")
def occupy(s: int, g: int, end: int, wbytes: int, state: np.ndarray, occ_bytes: int) -> tuple[int, bool]:
    """Stream s's new tile is granted at g and computes until `end`: first every held tile whose
    compute ended by g is released (oldest first: a stream's tiles end in order), then the new
    tile takes the stream's next slot with its weight bytes. Returns (on-chip bytes now, ok);
    ok is False when that slot still held a tile (grants out of time order: the online peak
    is then not exact)."""
    slots = (state.shape[1] - 2) // 2
    for q in range(state.shape[0]):
        while state[q, 2 * slots + 1] > 0:
            k = state[q, 2 * slots] - state[q, 2 * slots + 1]
            k = k + slots if k < 0 else k
            if state[q, k] > g:
                break
            occ_bytes -= state[q, slots + k]
            state[q, 2 * slots + 1] -= 1
    ok = state[s, 2 * slots + 1] < slots
    if ok:
        state[s, 2 * slots + 1] += 1
    r = state[s, 2 * slots]
    state[s, r] = end
    state[s, slots + r] = wbytes
    state[s, 2 * slots] = 0 if r + 1 == slots else r + 1
    return occ_bytes + wbytes, ok
