"""The vector unit: element-wise and reduction ops of a decoder layer (norms, softmax,
SiLU x up, residual adds)."""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.energy.actions import OUT_READ_BITS, OUT_WRITE_BITS, VECTOR_LANE_OPS, X_READ_BITS


@njit(cache=True)
def vector_tile_cycles(elements: int, passes: int, lanes: int, latency: int) -> int:
    """Cycles of one vector tile: ceil(elements x passes / lanes) + latency.

    elements: the tile's output elements; passes: passes per element the function needs
    (vector_unit.*_passes); lanes: element-passes per cycle; latency: pipeline cycles once
    per tile."""
    return (elements * passes + lanes - 1) // lanes + latency


@njit(cache=True)
def vector_op_tiles(elements, per_tile, inputs, abits, obits, passes, lanes, latency, nbytes, cycles, wbytes, off, act):
    """Tiles of a vector op over `elements` elements, `per_tile` per tile (the last one
    partial), each loading `inputs` operand tensors of its elements at `abits` bits from DRAM
    (0: operands already on chip), written from index `off`, its actions added to `act`;
    returns (tiles written, 0 MACs)."""
    i = off
    done = 0
    while done < elements:
        e = min(per_tile, elements - done)
        nbytes[i] = (e * inputs * abits + 7) // 8
        cycles[i] = vector_tile_cycles(e, passes, lanes, latency)
        vector_tile_actions(e, inputs, passes, abits, obits, act)
        wbytes[i] = 0
        done += e
        i += 1
    return i - off, 0


@njit(cache=True)
def vector_tile_actions(elements: int, inputs: int, passes: int, ab: int, ob: int, act: np.ndarray) -> None:
    """Adds one vector tile's actions to `act` (energy/actions.py layout): elements x passes
    lane operations; its operand tensors read from the input buffer, elements x inputs x ab
    bits, or, for softmax (inputs = 0: the scores are on chip), elements x ob bits read from
    the output buffer; results written to the output buffer, elements x ob bits."""
    act[VECTOR_LANE_OPS] += elements * passes
    if inputs:
        act[X_READ_BITS] += elements * inputs * ab
    else:
        act[OUT_READ_BITS] += elements * ob
    act[OUT_WRITE_BITS] += elements * ob
