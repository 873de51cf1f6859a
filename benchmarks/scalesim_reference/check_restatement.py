"""Check restatement.scalesim_cycles against the SCALE-Sim 3.0.0 reference runs.

    python benchmarks/scalesim_reference/check_restatement.py [CSV]

CSV defaults to benchmarks/results/scalesim_reference.csv (made by make_reference.py
in the separate SCALE-Sim venv).  Needs only numpy; imports neither scalesim nor the
sslcsim project.  Prints one line per case (OK, or the differences) and ends with
'N passed, M failed'.  A case passes when "Total Cycles", "Total Cycles (incl.
prefetch)" and "Stall Cycles" all match exactly.  The DRAM read/write counts and
DRAM start/stop cycles of DETAILED_ACCESS_REPORT are compared too and summarised
on a separate line (they do not decide pass/fail).  Exit status 1 if any case fails.
"""

from __future__ import annotations

import csv
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from restatement import scalesim_cycles, stall_free_cycles  # noqa: E402

DEFAULT_CSV = os.path.join(os.path.dirname(HERE), "results", "scalesim_reference.csv")

MAIN = [("total", "Total Cycles"), ("total_incl_prefetch", "Total Cycles (incl. prefetch)"),
        ("stall", "Stall Cycles")]
DETAIL = [("ifmap_dram_reads", "DRAM IFMAP Reads"), ("filter_dram_reads", "DRAM Filter Reads"),
          ("ofmap_dram_writes", "DRAM OFMAP Writes"), ("ifmap_dram_start", "DRAM IFMAP Start Cycle"),
          ("filter_dram_start", "DRAM Filter Start Cycle"),
          ("ofmap_dram_start", "DRAM OFMAP Start Cycle"), ("ofmap_dram_stop", "DRAM OFMAP Stop Cycle")]


def main(argv):
    path = argv[1] if len(argv) > 1 else DEFAULT_CSV
    with open(path) as f:
        rows = list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    passed = failed = detail_bad = 0
    t_total = 0.0
    for row in rows:
        p = {k: int(row[k]) for k in ("R", "C", "M", "N", "K", "ifmap_kb", "filter_kb",
                                      "ofmap_kb", "ifmap_bw", "filter_bw", "ofmap_bw")}
        df = row["dataflow"]
        t0 = time.perf_counter()
        got = scalesim_cycles(df, p["R"], p["C"], p["M"], p["N"], p["K"], p["ifmap_kb"],
                              p["filter_kb"], p["ofmap_kb"], p["ifmap_bw"], p["filter_bw"],
                              p["ofmap_bw"], details=True)
        t_total += time.perf_counter() - t0
        diffs = []
        for key, col in MAIN:
            ref = int(float(row[col]))
            if got[key] != ref:
                diffs.append(f"{key} ref {ref} got {got[key]} ({got[key] - ref:+d})")
        ddiffs = [f"{key} ref {int(float(row[col]))} got {got[key]}" for key, col in DETAIL
                  if got[key] != int(float(row[col]))]
        detail_bad += bool(ddiffs)
        label = (f"case {int(row['case_id']):3d} {row['regime']:8s} {df} {p['R']}x{p['C']} "
                 f"M{p['M']} N{p['N']} K{p['K']} kb={p['ifmap_kb']},{p['filter_kb']},"
                 f"{p['ofmap_kb']} bw={p['ifmap_bw']},{p['filter_bw']},{p['ofmap_bw']}")
        free = stall_free_cycles(df, p["R"], p["C"], p["M"], p["N"], p["K"])
        if diffs:
            failed += 1
            print(f"{label}: DIFF " + "; ".join(diffs))
        else:
            passed += 1
            print(f"{label}: OK total={got['total']} incl={got['total_incl_prefetch']} "
                  f"stall={got['stall']} stall_free={free}"
                  + ("" if not ddiffs else "  [detail diff: " + "; ".join(ddiffs) + "]"))
    print(f"DRAM detail columns: {len(rows) - detail_bad} of {len(rows)} cases match exactly; "
          f"restatement time {t_total:.2f} s for {len(rows)} cases")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
