"""This project against real SCALE-Sim 3.0.0 runs (benchmarks/results/scalesim_reference.csv,
made by benchmarks/scalesim_reference/make_reference.py in a separate venv).

    .venv/bin/python benchmarks/bench_scalesim_compare.py [--out benchmarks/results/scalesim_compare.md]

For every run: SCALE-Sim's Total Cycles and Total Cycles (incl. prefetch); the compatible mode's
(simulator/scalesim/memory.py, must be equal); and the physical tile model on the same array,
SRAMs and bandwidths (simulator/scalesim_report.physical_hw), with its difference from
SCALE-Sim's incl.-prefetch total (the physical makespan includes the first fill and the final
write-back too).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.reports.files import atomic_write  # noqa: E402
from simulator.scalesim.memory import scalesim_layer  # noqa: E402
from simulator.scalesim.files import Gemm, ScaleSimConfig  # noqa: E402
from simulator.scalesim.report import physical_cycles, physical_hw  # noqa: E402

CSV = ROOT / "benchmarks" / "results" / "scalesim_reference.csv"


def config_of(r: dict) -> ScaleSimConfig:
    i = lambda k: int(r[k])  # noqa: E731
    return ScaleSimConfig(
        run_name=f"case{r['case_id']}", array_rows=i("R"), array_cols=i("C"), ifmap_sram_kb=i("ifmap_kb"),
        filter_sram_kb=i("filter_kb"), ofmap_sram_kb=i("ofmap_kb"), ifmap_offset=0, filter_offset=10_000_000,
        ofmap_offset=20_000_000, dataflow=r["dataflow"], read_request_buffer=32, write_request_buffer=32,
        bandwidth_mode="USER", bandwidths=(i("ofmap_bw"),), ifmap_sram_bank_bandwidth=i("ifmap_bw"),
        ifmap_sram_bank_num=1, ifmap_sram_bank_port=2, filter_sram_bank_bandwidth=i("filter_bw"),
        filter_sram_bank_num=1, filter_sram_bank_port=2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scalesim_compare.md"))
    args = ap.parse_args()
    rows = list(csv.DictReader(line for line in CSV.read_text().splitlines() if not line.startswith("#")))
    lines, exact, errs = [], 0, {}
    for r in rows:
        cfg, g = config_of(r), Gemm(f"case{r['case_id']}", int(r["M"]), int(r["N"]), int(r["K"]))
        s = scalesim_layer(cfg.dataflow, cfg.array_rows, cfg.array_cols, g.M, g.N, g.K, cfg.ifmap_sram_kb,
                           cfg.filter_sram_kb, cfg.ofmap_sram_kb, cfg.ifmap_dram_read_bw, cfg.filter_dram_read_bw,
                           cfg.ofmap_dram_write_bw)
        ref_total, ref_incl = int(r["Total Cycles"]), int(r["Total Cycles (incl. prefetch)"])
        ok = s.total_cycles == ref_total and s.total_cycles_incl_prefetch == ref_incl
        exact += ok
        phys = physical_cycles(physical_hw(cfg), g)
        err = (phys - ref_incl) / ref_incl * 100
        errs.setdefault(r["regime"], []).append(err)
        lines.append(f"| {r['case_id']} | {r['regime']} | {r['dataflow']} | {cfg.array_rows}x{cfg.array_cols} | "
                     f"{g.M},{g.N},{g.K} | {r['ifmap_kb']}/{r['filter_kb']}/{r['ofmap_kb']} | "
                     f"{r['ifmap_bw']}/{r['filter_bw']}/{r['ofmap_bw']} | {ref_total} | {s.total_cycles} | {ref_incl} | "
                     f"{s.total_cycles_incl_prefetch} | {'yes' if ok else 'NO'} | {phys} | {err:+.1f}% |")
    summary = [f"| {k} | {len(v)} | {statistics.median(v):+.1f}% | {min(v):+.1f}% | {max(v):+.1f}% |"
               for k, v in sorted(errs.items())]
    text = "\n".join([
        "# sslcsim against SCALE-Sim 3.0.0 (real runs, with DRAM stalls)", "",
        f"Command: `.venv/bin/python benchmarks/bench_scalesim_compare.py`. Reference: `{CSV.relative_to(ROOT)}` "
        "(88 runs of scalesim==3.0.0, command in its first line).", "",
        f"**Compatible mode** (`simulator/scalesim/memory.py`): {exact} of {len(rows)} runs equal SCALE-Sim's "
        "Total Cycles and Total Cycles (incl. prefetch) exactly, small SRAMs included.", "",
        "**Physical mode** (this project's tile model on the same array, SRAMs as double-buffered tile slots, "
        "per-operand DRAM ports at the same bandwidths, 1-cycle latency), against SCALE-Sim's incl.-prefetch total. "
        "It differs by design: whole-fold tiles in the dataflow's loop nest instead of a sliding window of "
        "hash sets over half of each SRAM; a late transfer costs its lateness once, where SCALE-Sim charges it "
        "twice; prefetches are issued when a slot frees, not chained back to back; partial sums of WS/IS stay in "
        "the output buffer across the reduction instead of being written out once per row fold. "
        "Where nothing stalls (regime nostall, bandwidth 4096) the physical model is slower on small SRAMs: "
        "its tiles must fit a double-buffered slot (half of each SRAM), so a fold's stream is cut into tiles, "
        "or a fold into partial folds, where SCALE-Sim streams it whole whatever the SRAM size.", "",
        "| regime | runs | median | min | max |", "|---|---|---|---|---|", *summary, "",
        "| case | regime | df | array | M,N,K | SRAM KB if/fi/of | bw if/fi/of | SCALE-Sim total | compat total | "
        "SCALE-Sim incl. prefetch | compat incl. prefetch | exact | physical | physical vs incl. |",
        "|" + "---|" * 14, *lines, ""])
    atomic_write(args.out, text)
    print(f"compat exact: {exact}/{len(rows)}; physical median error by regime: "
          + ", ".join(f"{k} {statistics.median(v):+.1f}%" for k, v in sorted(errs.items())))
    return 0 if exact == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
