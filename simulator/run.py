"""Run a workload on a hardware config: tile it, schedule it, keep every op's timing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import HardwareConfig
from simulator.memory.buffers import slot_count
from simulator.memory.dram import memory_spec
from simulator.scheduler import peak_by_sort, schedule
from simulator.tiling import Program, build_program
from workloads.workload import Workload


@dataclass
class RunResult:
    """One schedule: the program, per-op times and aggregates, and (when recorded) every
    tile's times. Times in cycles, bytes in bytes."""

    hw: HardwareConfig
    workload: Workload
    program: Program
    arrays: dict[str, np.ndarray]
    tile_req: np.ndarray  # per tile, empty unless recorded
    tile_grant: np.ndarray
    tile_start: np.ndarray
    tile_end: np.ndarray
    op_first: np.ndarray  # request of the op's first tile (write-back: its grant)
    op_done: np.ndarray
    op_grant: np.ndarray
    op_busy: np.ndarray  # compute cycles
    op_dram: np.ndarray  # bytes over the DRAM
    op_stall: np.ndarray  # memory-stall cycles
    channel_busy: int  # busy cycles summed over the DRAM's channels or ports
    peak_buffer_bytes: int  # peak on-chip weight+index bytes

    @property
    def makespan(self) -> int:
        return int(self.op_done.max()) if self.op_done.size else 0


def run(workload: Workload, hw: HardwareConfig, record_tiles: bool = False) -> RunResult:
    """Tile and schedule `workload` on `hw`; `record_tiles` keeps every tile's times."""
    prog = build_program(workload, hw)
    a = prog.arrays()
    m = memory_spec(hw)

    def go(record: bool) -> tuple:
        return schedule(a["op_stream"], a["op_dep_ptr"], a["op_dep_idx"], a["op_wb_bytes"], a["op_tile_ptr"],
                        a["tile_bytes"], a["tile_cycles"], a["tile_weight_bytes"], slot_count(hw), m.ideal, m.kind,
                        m.num, m.den, m.interleave, m.latency, record)

    out = go(record_tiles)
    peak = int(out[11])
    if not out[12]:  # a grant ran backwards: the online peak is not exact, sort the events
        if not record_tiles:
            out = go(True)
        peak = peak_by_sort(out[1], out[3], a["tile_weight_bytes"])
    return RunResult(hw, workload, prog, a, *out[:10], int(out[10]), peak)
