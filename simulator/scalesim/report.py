"""SCALE-Sim's own files in, its COMPUTE_REPORT out: each GEMM layer of a SCALE-Sim topology
timed by SCALE-Sim 3.0.0's accounting (simulator/scalesim/memory.py, the compatible mode),
with this project's physical tile model on the same array, SRAMs and bandwidths beside it.

The physical model differs from SCALE-Sim by design: tiles follow the dataflow's loop nest
with whole-fold stationary extents, the SRAMs are double-buffered tile slots (not a sliding
window of hash sets), a late transfer costs its lateness once (not twice), and its total
includes the first operand fill and the final write-back that SCALE-Sim's "Total Cycles"
leaves out. benchmarks/results/scalesim_compare.md measures the difference.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass

from simulator.config import HardwareConfig, parse_hw
from simulator.scalesim.memory import scalesim_layer
from simulator.schedule.run import run
from simulator.scalesim.files import Gemm, ScaleSimConfig
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

# SCALE-Sim counts in words of 1 byte per cycle; at 1000 MHz one word per cycle is 1 GB/s.
CLOCK_MHZ = 1000


@dataclass(frozen=True)
class LayerRow:
    """One layer: SCALE-Sim's COMPUTE_REPORT columns (cycles; utilizations in %) and the
    physical model's cycles for the same GEMM."""

    name: str
    total_cycles_incl_prefetch: int
    total_cycles: int
    stall_cycles: int
    overall_util: float
    mapping_efficiency: float
    physical_cycles: int | None


def mapping_efficiency(cfg: ScaleSimConfig, g: Gemm) -> float:
    """SCALE-Sim's average share of the array's PEs a fold maps, %: the stationary operand's
    extents (os: M x N, ws: K x N, is: K x M) over the folds' R x C."""
    a, b = {"os": (g.M, g.N), "ws": (g.K, g.N), "is": (g.K, g.M)}[cfg.dataflow]
    R, C = cfg.array_rows, cfg.array_cols
    return a * b * 100 / (-(-a // R) * R * -(-b // C) * C)


def physical_hw(cfg: ScaleSimConfig) -> HardwareConfig:
    """This project's physical model of the same array, SRAMs (weight = filter, input = ifmap,
    output = ofmap, double-buffered) and per-operand DRAM ports at SCALE-Sim's bandwidths."""
    gbps = lambda words_per_cycle: float(words_per_cycle) * CLOCK_MHZ / 1000  # noqa: E731
    return parse_hw({
        "name": f"{cfg.run_name}-physical", "clock_mhz": CLOCK_MHZ,
        "denser_engine": {"kind": "systolic", "rows": cfg.array_rows, "cols": cfg.array_cols,
                          "dataflow": cfg.dataflow, "timing": "physical"},
        "sparser_engine": {"lines": 1, "macs_per_line": 1},
        "split": {"policy": "time_multiplexed"},
        "buffers": {"weight_kib": cfg.filter_sram_kb, "input_kib": cfg.ifmap_sram_kb,
                    "output_kib": cfg.ofmap_sram_kb, "index_kib": 1, "double_buffering": True},
        "dram": {"latency_ns": 1, "ports": {"weight_gbps": gbps(cfg.filter_dram_read_bw),
                                            "input_gbps": gbps(cfg.ifmap_dram_read_bw),
                                            "output_gbps": gbps(cfg.ofmap_dram_write_bw)}},
        "precision": {"weight_bits": 8, "activation_bits": 8, "output_bits": 8},
    }, f"{cfg.run_name} (physical)")


def physical_cycles(hw: HardwareConfig, g: Gemm) -> int:
    """Makespan of the GEMM (M tokens, K inputs, N outputs) as one dense op on `hw`."""
    shape = ModelShape(g.name, g.K, g.N, 1, 1, 1, g.N)
    work = Workload(shape, "decode", g.M, 1, f"GEMM {g.name}",
                    lambda layer: [Projection(layer, "gemm", "MHA", g.N, g.K, 0, None)])
    return run(work, hw).makespan


def compute_report(cfg: ScaleSimConfig, gemms: list[Gemm], physical: bool = True) -> list[LayerRow]:
    """Per layer: SCALE-Sim 3.0.0's cycles (compatible mode) and the physical model's."""
    hw = physical_hw(cfg) if physical else None
    rows = []
    for g in gemms:
        s = scalesim_layer(cfg.dataflow, cfg.array_rows, cfg.array_cols, g.M, g.N, g.K, cfg.ifmap_sram_kb,
                           cfg.filter_sram_kb, cfg.ofmap_sram_kb, cfg.ifmap_dram_read_bw, cfg.filter_dram_read_bw,
                           cfg.ofmap_dram_write_bw, reads_stall=cfg.bandwidth_mode == "USER")
        util = g.M * g.N * g.K * 100 / (s.total_cycles * cfg.array_rows * cfg.array_cols)
        rows.append(LayerRow(g.name, s.total_cycles_incl_prefetch, s.total_cycles, s.stall_cycles, util,
                             mapping_efficiency(cfg, g), physical_cycles(hw, g) if hw else None))
    return rows


def render_compute_report(rows: list[LayerRow]) -> str:
    """COMPUTE_REPORT.csv as SCALE-Sim writes its cycle columns, with the physical cycles last."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles", "Overall Util %",
                "Mapping Efficiency %", "sslcsim physical cycles"])
    for i, r in enumerate(rows):
        w.writerow([i, r.total_cycles_incl_prefetch, r.total_cycles, r.stall_cycles, repr(r.overall_util),
                    repr(r.mapping_efficiency), "" if r.physical_cycles is None else r.physical_cycles])
    return out.getvalue()


def report_json(rows: list[LayerRow]) -> list[dict]:
    return [asdict(r) for r in rows]
