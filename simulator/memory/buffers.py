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


def slot_count(hw: HardwareConfig) -> int:
    return 2 if (hw.buffers is None or hw.buffers.double_buffering) else 1


@njit(cache=True)
def slot_free_at(ring: np.ndarray, rix: np.ndarray, s: int) -> int:
    """Cycle stream s's next slot is free: the compute end of the tile that used it last
    (0 before the first `slots` tiles)."""
    return ring[s, rix[s]]


@njit(cache=True)
def release_until(g: int, ring: np.ndarray, ring_w: np.ndarray, rix: np.ndarray, held: np.ndarray,
                  occ_bytes: int) -> int:
    """Releases, oldest first, every held tile whose compute ended by cycle g; returns the
    on-chip bytes left (a stream's tiles end in order, so its oldest held tile ends first)."""
    slots = ring.shape[1]
    for q in range(ring.shape[0]):
        while held[q] > 0:
            k = rix[q] - held[q]
            k = k + slots if k < 0 else k
            if ring[q, k] > g:
                break
            occ_bytes -= ring_w[q, k]
            held[q] -= 1
    return occ_bytes


@njit(cache=True)
def hold(s: int, end: int, wbytes: int, ring: np.ndarray, ring_w: np.ndarray, rix: np.ndarray,
         held: np.ndarray) -> bool:
    """Puts stream s's newest tile (compute end, weight bytes) into its next slot; False when
    that slot still held a tile (grants out of time order: the online peak is then not exact)."""
    slots = ring.shape[1]
    ok = held[s] < slots
    if ok:
        held[s] += 1
    r = rix[s]
    ring[s, r] = end
    ring_w[s, r] = wbytes
    r += 1
    rix[s] = 0 if r == slots else r
    return ok
