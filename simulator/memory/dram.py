"""DRAM: shared channels with address interleaving, or dedicated per-operand ports.

Every resource (a channel or a port) moves one transfer part at a time, in request order
(oldest first; the scheduler issues requests in that order, so each resource is a FIFO):
a part of B bytes is granted at max(request, resource free) and occupies the resource for
ceil(B * num / den) cycles, num / den being its cycles per byte as an exact fraction.
- channels: a transfer is cut into `interleave` byte chunks dealt round-robin over the N
  channels, each transfer continuing from the channel after the previous transfer's last
  chunk (transfers are laid out back to back in the address space, in issue order). Each
  channel has bandwidth / N.
- ports: the weight (and index) bytes of a tile go over the weight port, its input bytes
  over the input port and the outputs written back over the output port (SCALE-Sim's
  filter, ifmap and ofmap interfaces), each with its own bandwidth.
Data arrives `latency` cycles after its last part leaves its resource; a write-back is
done when its last part leaves. Zero bytes, or ideal memory, bypass the resources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from simulator.config import HardwareConfig

CHANNELS, PORTS = 0, 1
WEIGHT_PORT, INPUT_PORT, OUTPUT_PORT = 0, 1, 2


@dataclass(frozen=True)
class MemorySpec:
    """The DRAM as the scheduler sees it: per resource cycles per byte num[r] / den[r]."""

    ideal: bool
    kind: int
    num: np.ndarray
    den: np.ndarray
    latency: int
    interleave: int


def _cycles_per_byte(clock_mhz: float, gbps: float, share: int) -> tuple[int, int]:
    """(num, den): cycles per byte of a resource with gbps / share GB/s at clock_mhz, exact."""
    num = round(clock_mhz * 1000) * share  # cycles per ms, times the share
    den = round(gbps * 1_000_000)  # bytes per ms
    g = math.gcd(num, den)
    return num // g, den // g


def memory_spec(hw: HardwareConfig) -> MemorySpec:
    """The resources of hw.dram (one ideal resource when there is no DRAM)."""
    d = hw.dram
    if d is None:
        return MemorySpec(True, CHANNELS, np.zeros(1, np.int64), np.ones(1, np.int64), 0, 1)
    if d.ports is not None:
        rates = [_cycles_per_byte(hw.clock_mhz, g, 1)
                 for g in (d.ports.weight_gbps, d.ports.input_gbps, d.ports.output_gbps)]
        kind, interleave = PORTS, 1
    else:
        rates = [_cycles_per_byte(hw.clock_mhz, d.bandwidth_gbps, d.channels)] * d.channels
        kind, interleave = CHANNELS, d.interleave_bytes
    return MemorySpec(False, kind, np.array([r[0] for r in rates], np.int64), np.array([r[1] for r in rates], np.int64),
                      hw.dram_latency_cycles, interleave)


@njit(cache=True, inline="always")
def deal(nbytes: int, n: int, g: int) -> tuple[int, int, int, int, int]:
    """An nbytes transfer cut into chunks = ceil(nbytes / g) chunks of g bytes dealt round-robin
    over n channels, chunk i to the (i mod n)-th channel from where it starts: (chunks, full,
    extra, short, last): the j-th channel gets full + 1 chunks if j < extra, else full; the
    last chunk, on the `last`-th channel, is `short` bytes short of g (deal_part)."""
    chunks = -(-nbytes // g)
    return chunks, chunks // n, chunks % n, chunks * g - nbytes, (chunks - 1) % n


@njit(cache=True, inline="always")
def deal_part(full: int, extra: int, short: int, last: int, g: int, j: int) -> int:
    """Bytes on the j-th channel of a deal (deal's values)."""
    return (full + (1 if j < extra else 0)) * g - (short if j == last else 0)


@njit(cache=True)
def channel_bytes(nbytes: int, ptr: int, n: int, g: int, out: np.ndarray) -> int:
    """Bytes of an nbytes transfer on each of n channels (into out[:n]) when its g-byte chunks
    are dealt round-robin starting at channel ptr; returns the channel after its last chunk."""
    chunks, full, extra, short, last = deal(nbytes, n, g)
    for j in range(n):
        out[(ptr + j) % n] = deal_part(full, extra, short, last, g, j)
    return (ptr + chunks) % n


@njit(cache=True, inline="always")
def port_bytes(r: int, w_bytes: int, x_bytes: int, o_bytes: int) -> int:
    """A transfer's bytes on port r: its weight (+ index), input or output bytes."""
    return w_bytes if r == WEIGHT_PORT else (x_bytes if r == INPUT_PORT else o_bytes)


@njit(cache=True, inline="always")
def take(r: int, req: int, nbytes: int, num: np.ndarray, den: np.ndarray, free: np.ndarray,
         busy: np.ndarray) -> tuple[int, int]:
    """Grants resource r to a part of nbytes at max(req, free[r]) for ceil(nbytes num[r] / den[r])
    cycles; returns (grant, leave). Straight-line on purpose: numba keeps the reference counts
    of arrays passed through an inlined helper that branches (an atomic add each, per call)."""
    g = max(req, free[r])
    occ = (nbytes * num[r] + den[r] - 1) // den[r]
    free[r] = g + occ
    busy[r] += occ
    return g, g + occ


@njit(cache=True)
def dram_request(req: int, w_bytes: int, x_bytes: int, o_bytes: int, ideal: bool, kind: int, num: np.ndarray,
                 den: np.ndarray, interleave: int, free: np.ndarray, busy: np.ndarray, ptr: np.ndarray) -> tuple[int, int]:
    """(grant, leave) of a transfer of weight, input and output bytes requested at req: grant
    is when its first part starts moving, leave when its last part has left its resource.
    A transfer of no bytes, or on ideal memory, is granted and left at req. (The scheduler's
    tile loop composes deal, port_bytes and take the same way, written out.)"""
    total = w_bytes + x_bytes + o_bytes
    if ideal or total == 0:
        return req, req
    n = num.shape[0]
    if n == 1:  # one channel takes every chunk
        return take(0, req, total, num, den, free, busy)
    grant, leave = np.int64(1) << np.int64(62), np.int64(0)
    if kind == PORTS:
        for r in range(n):
            part = port_bytes(r, w_bytes, x_bytes, o_bytes)
            if part > 0:
                g, e = take(r, req, part, num, den, free, busy)
                grant, leave = min(grant, g), max(leave, e)
        return grant, leave
    chunks, full, extra, short, last = deal(total, n, interleave)
    for j in range(min(chunks, n)):  # the channels that get a chunk
        g, e = take((ptr[0] + j) % n, req, deal_part(full, extra, short, last, interleave, j), num, den, free, busy)
        grant, leave = min(grant, g), max(leave, e)
    ptr[0] = (ptr[0] + chunks) % n
    return grant, leave
