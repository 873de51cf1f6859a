"""Under ViTCoD's own rules (hwconfigs/vitcod-compat.yaml) the sparser engine's busy cycles of
every weight-projection tile equal ViTCoD's per-step rule, restated here from its simulator
(GATECH-EIC/ViTCoD Hardware/Simulator/ViTCoD.py): each of the sw sparser lines takes one kept
element per step and spreads the features (here: tokens) over its P MACs, the work pooled
over the lines, so a tile costs ceil(nnz / sw) * ceil(T / P) cycles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator.config import load_hw
from simulator.memory.buffers import buffer_slots
from simulator.program.build import build_program, split_S
from workloads.masks import CsrMask
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

HW = Path(__file__).resolve().parents[2] / "hwconfigs"


def vitcod_rule(nnz: int, tokens: int, sw: int, P: int) -> int:
    return max(1, math.ceil(nnz / sw) * math.ceil(tokens / P))


def one_projection(mask: np.ndarray, rank: int, tokens: int) -> Workload:
    m, n = mask.shape
    shape = ModelShape("vitcod-rule", n, m, 1, 1, 1, m)

    def layer(i: int) -> list[Projection]:
        return [Projection(i, "q_proj", "MHA", m, n, rank, CsrMask.from_dense(mask))]

    return Workload(shape, "prefill", 1, tokens, "ViTCoD rule", layer)


@pytest.mark.parametrize("seed", range(12))
def test_sparse_tile_cycles_equal_vitcods_rule_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    hw = load_hw(HW / "vitcod-compat.yaml")
    m, n = int(rng.integers(64, 700)), int(rng.integers(64, 700))
    col_density = rng.uniform(0, 1, n) ** float(rng.choice([0.5, 1, 3]))
    mask = rng.random((m, n)) < col_density[None, :]
    tokens = int(rng.choice([1, 3, 64, 65, 200, 1000]))
    rank = int(rng.integers(0, 32))
    work = one_projection(mask, rank, tokens)
    prog = build_program(work, hw)
    o = prog.op_part.index("S_sparse")
    sw = prog.op_engine_macs[o] // hw.sparser_engine.macs_per_line
    tt, tm, tk = prog.op_tile_shape[o]
    order = split_S(work.layer_projections(0)[0], hw, buffer_slots(hw, False), tokens).order
    sub = mask[:, order]
    expected = []
    for t0 in range(0, tokens, tt):  # the tile loop order: token tile, row block, column block
        for r0 in range(0, m, tm):
            for c0 in range(0, len(order), tk):
                nnz = int(sub[r0:r0 + tm, c0:c0 + tk].sum())
                expected.append(vitcod_rule(nnz, min(tt, tokens - t0), sw, hw.sparser_engine.macs_per_line))
    a = prog.arrays()
    assert a["tile_cycles"][a["op_tile_ptr"][o]:a["op_tile_ptr"][o + 1]].tolist() == expected
    assert len(expected) > 1 or tokens == 1
