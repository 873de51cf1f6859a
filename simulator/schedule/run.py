"""Run a workload on a hardware config: tile it, schedule it, keep every op's timing.

By default the program is tiled and scheduled one decoder layer at a time on one machine
state (scheduler.schedule), so memory holds one layer's tiles whatever the depth; the
schedule is the same as scheduling the whole program at once (scheduler.schedule's
docstring; tests/simulator/test_windowed_run.py). `record_tiles` keeps every tile and its
times instead."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.config import HardwareConfig
from simulator.memory.buffers import slot_count
from simulator.memory.dram import memory_spec
from simulator.schedule.scheduler import new_machine, peak_by_sort, schedule
from simulator.program.build import Program, build_program
from workloads.workload import Workload

PER_OP = ("op_first", "op_done", "op_grant", "op_busy", "op_dram", "op_stall")


@dataclass
class RunResult:
    """One schedule: the program, per-op times and aggregates, and (when recorded) every
    tile's arrays and times. Times in cycles, bytes in bytes."""

    hw: HardwareConfig
    workload: Workload
    program: Program
    op_first: np.ndarray  # request of the op's first tile (write-back: its grant)
    op_done: np.ndarray
    op_grant: np.ndarray
    op_busy: np.ndarray  # compute cycles
    op_dram: np.ndarray  # bytes over the DRAM
    op_stall: np.ndarray  # memory-stall cycles
    channel_busy: int  # busy cycles summed over the DRAM's channels or ports
    peak_buffer_bytes: int  # peak on-chip weight+index bytes
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # the scheduler's arrays, when recorded
    tile_req: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per tile, when recorded
    tile_grant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tile_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tile_end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def makespan(self) -> int:
        return int(self.op_done.max()) if self.op_done.size else 0


class _Scheduler:
    """Schedules a program part by part on one machine, collecting per-op results."""

    def __init__(self, hw: HardwareConfig, record: bool):
        self.m = memory_spec(hw)
        self.machine = new_machine(slot_count(hw), len(self.m.num))
        self.record = record
        self.per_op: dict[str, list[np.ndarray]] = {k: [] for k in PER_OP}
        self.tiles: list[tuple] = []
        self.peak = 0
        self.arrays: dict[str, np.ndarray] = {}

    def _go(self, a: dict, ext: np.ndarray, record: bool, machine: tuple) -> tuple:
        m = self.m
        return schedule(a["op_stream"], a["op_dep_ptr"], a["op_dep_idx"], ext, a["op_wb_bytes"], a["op_tile_ptr"],
                        a["tile_bytes"], a["tile_cycles"], a["tile_weight_bytes"], m.ideal, m.kind, m.num, m.den,
                        m.interleave, m.latency, record, machine)

    def part(self, prog: Program, lo: int) -> None:
        """Schedules ops lo.. of `prog` (whose tiles it holds now)."""
        a = prog.arrays(lo)
        done = np.concatenate(self.per_op["op_done"]) if self.per_op["op_done"] else np.zeros(0, np.int64)
        ext = np.zeros(len(a["op_stream"]), np.int64)
        for o in range(ext.size):
            deps = a["op_ext_idx"][a["op_ext_ptr"][o]:a["op_ext_ptr"][o + 1]]
            ext[o] = done[deps].max() if deps.size else 0
        sc = self.machine[-1]
        sc[1], sc[3] = 0, 1  # this part's own peak, and whether it is exact
        before = tuple(x.copy() for x in self.machine)
        out = self._go(a, ext, self.record, self.machine)
        part_peak = int(sc[1])
        if sc[3] == 0:  # a tile holding bytes was granted before an earlier one: sort this part's events
            times = out if self.record else self._go(a, ext, True, before)
            part_peak = peak_by_sort(times[1], times[3], a["tile_weight_bytes"])
        self.peak = max(self.peak, part_peak)
        for k, v in zip(PER_OP, out[4:]):
            self.per_op[k].append(v)
        if self.record:
            self.tiles.append(out[:4])
            self.arrays = {**a, "tile_bytes": a["tile_bytes"].copy(), "tile_cycles": a["tile_cycles"].copy(),
                           "tile_weight_bytes": a["tile_weight_bytes"].copy()}

    def result(self, hw: HardwareConfig, workload: Workload, prog: Program) -> RunResult:
        ops = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in self.per_op.items()}
        times = {}
        if self.record:
            times = {k: np.concatenate([t[i] for t in self.tiles])
                     for i, k in enumerate(("tile_req", "tile_grant", "tile_start", "tile_end"))}
        return RunResult(hw, workload, prog, **ops, channel_busy=int(self.machine[4].sum()),
                         peak_buffer_bytes=self.peak, arrays=self.arrays, **times)


def run(workload: Workload, hw: HardwareConfig, record_tiles: bool = False) -> RunResult:
    """Tile and schedule `workload` on `hw`, a layer at a time; `record_tiles` keeps the whole
    program's tiles (RunResult.arrays) and every tile's times, scheduled at once."""
    s = _Scheduler(hw, record_tiles)
    if record_tiles:
        prog = build_program(workload, hw)
        s.part(prog, 0)
    else:
        prog = build_program(workload, hw, s.part)
    return s.result(hw, workload, prog)
