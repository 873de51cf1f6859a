"""The vector unit: element-wise and reduction ops of a decoder layer (norms, softmax,
SiLU x up, residual adds)."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def vector_tile_cycles(elements: int, passes: int, lanes: int, latency: int) -> int:
    """Cycles of one vector tile: ceil(elements x passes / lanes) + latency.

    elements: the tile's output elements; passes: passes per element the function needs
    (vector_unit.*_passes); lanes: element-passes per cycle; latency: pipeline cycles once
    per tile."""
    return (elements * passes + lanes - 1) // lanes + latency


@njit(cache=True)
def vector_op_tiles(elements, per_tile, inputs, abits, passes, lanes, latency, nbytes, cycles, wbytes, off):
    """Tiles of a vector op over `elements` elements, `per_tile` per tile (the last one
    partial), each loading `inputs` operand tensors of its elements at `abits` bits from DRAM
    (0: operands already on chip), written from index `off`; returns (tiles written, 0 MACs)."""
    i = off
    done = 0
    while done < elements:
        e = min(per_tile, elements - done)
        nbytes[i] = (e * inputs * abits + 7) // 8
        cycles[i] = vector_tile_cycles(e, passes, lanes, latency)
        wbytes[i] = 0
        done += e
        i += 1
    return i - off, 0
