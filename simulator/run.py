"""Run a workload on a hardware config: tile it, schedule it, keep every op's timing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from simulator.scheduler import schedule
from simulator.tiling import Program, build_program
from workloads.workload import Workload


@dataclass
class RunResult:
    """One schedule: the program plus per-tile and per-op times (cycles)."""

    hw: HardwareConfig
    workload: Workload
    program: Program
    arrays: dict[str, np.ndarray]
    tile_req: np.ndarray
    tile_grant: np.ndarray
    tile_start: np.ndarray
    tile_end: np.ndarray
    op_done: np.ndarray
    op_grant: np.ndarray
    channel_busy: int

    @property
    def makespan(self) -> int:
        return int(self.op_done.max()) if self.op_done.size else 0


def run(workload: Workload, hw: HardwareConfig) -> RunResult:
    prog = build_program(workload, hw)
    a = prog.arrays()
    num, den = hw.dram_cycles_per_byte
    slots = 2 if (hw.buffers is None or hw.buffers.double_buffering) else 1
    out = schedule(a["op_stream"], a["op_dep_ptr"], a["op_dep_idx"], a["op_wb_bytes"], a["op_tile_ptr"],
                   a["tile_bytes"], a["tile_cycles"], slots, hw.dram is None, num, den, hw.dram_latency_cycles)
    return RunResult(hw, workload, prog, a, *out[:6], int(out[6]))
