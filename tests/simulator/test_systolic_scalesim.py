"""Dense GEMMs on the denser engine in scalesim-compatible mode equal SCALE-Sim 3.0.0's
stall-free formulas (DESIGN.md), through the whole simulator, for many shapes and arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.config import parse_hw
from simulator.engines.systolic import DATAFLOWS, systolic_tile_cycles
from simulator.schedule.run import run
from workloads.presets import ModelShape
from workloads.workload import from_shape


def scalesim(dataflow: str, R: int, C: int, M: int, K: int, N: int) -> int:
    if dataflow == "os":
        return math.ceil(M / R) * math.ceil(N / C) * (R + C + K - 2) - 1
    if dataflow == "ws":
        return math.ceil(K / R) * math.ceil(N / C) * (2 * R + C + M - 2) - 1
    return math.ceil(K / R) * math.ceil(M / C) * (2 * R + C + N - 2) - 1


def hw_for(dataflow: str, R: int, C: int, timing: str = "scalesim"):
    return parse_hw({
        "name": "scalesim", "clock_mhz": 1000,
        "denser_engine": {"kind": "systolic", "rows": R, "cols": C, "dataflow": dataflow, "timing": timing},
        "sparser_engine": {"lines": 1, "macs_per_line": 1},
        "buffers": None, "dram": None,
    }, "test")


def gemm_cycles(dataflow: str, R: int, C: int, M: int, K: int, N: int, timing: str = "scalesim") -> int:
    """Cycles of the dense q_proj W op for M tokens, K = hidden, N = q features, via the simulator."""
    shape = ModelShape("gemm", K, 8, 1, 1, 1, N)
    r = run(from_shape(shape, None, "decode", M, 1), hw_for(dataflow, R, C, timing))
    o = r.program.op_name.index("L0.q_proj.W")
    return int(r.op_busy[o])


@pytest.mark.parametrize("dataflow,expected", [("os", 519), ("ws", 559), ("is", 599)])
def test_design_examples_8x16_array(dataflow, expected):
    assert gemm_cycles(dataflow, 8, 16, 40, 30, 20) == expected


@pytest.mark.parametrize("dataflow,expected", [("ws", 89_983), ("os", 81_791)])
def test_design_examples_1024_cubed_on_128x128(dataflow, expected):
    assert gemm_cycles(dataflow, 128, 128, 1024, 1024, 1024) == expected


def test_many_random_shapes_all_dataflows_match_the_formulas():
    rng = np.random.default_rng(7)
    for _ in range(60):
        R, C = int(rng.integers(1, 33)), int(rng.integers(1, 33))
        M, K, N = (int(x) for x in rng.integers(1, 300, 3))
        for df in ("ws", "os", "is"):
            assert gemm_cycles(df, R, C, M, K, N) == scalesim(df, R, C, M, K, N), (df, R, C, M, K, N)


def test_physical_mode_drops_the_quirks():
    R, C, M, K, N = 8, 16, 40, 30, 20
    assert gemm_cycles("ws", R, C, M, K, N, "physical") == scalesim("ws", R, C, M, K, N) + 1
    # OS: the R-cycle output drain per fold that SCALE-Sim's formula omits
    folds = math.ceil(M / R) * math.ceil(N / C)
    assert gemm_cycles("os", R, C, M, K, N, "physical") == scalesim("os", R, C, M, K, N) + 1 + folds * R


def test_one_token_on_a_64x64_ws_array_uses_about_1_in_191():
    cycles = int(systolic_tile_cycles(DATAFLOWS["ws"], 64, 64, 1, 64, 64, True))
    assert cycles == 191  # 4096 MACs of work in 191 cycles of a 4096-MAC array
