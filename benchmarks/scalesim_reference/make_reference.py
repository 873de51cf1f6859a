"""Generate SCALE-Sim 3.0.0 reference runs (GEMM layers, with and without DRAM stalls).

Needs SCALE-Sim 3.0.0 in its OWN virtual environment, outside the repository
(the sslcsim project never depends on it):

    python3 -m venv /work/scalesim-venv
    /work/scalesim-venv/bin/pip install 'scalesim==3.0.0' 'numpy<2.3'

Run from the repository root (sequential, single process, about 2.5 minutes):

    /work/scalesim-venv/bin/python benchmarks/scalesim_reference/make_reference.py

Options: --out PATH (default benchmarks/results/scalesim_reference.csv),
--only ID[,ID...] (run a subset, print rows, write nothing), --list (print the cases),
--random N (instead of the fixed list, N random cases with wider ranges: arrays 1..32,
dims 1..160, SRAMs 1..32 KB, bandwidths 1..100; seeded by --seed; use with --out).

It imports scalesim, never the sslcsim project.  Every case is one GEMM layer run
through SCALE-Sim's own top-level API (scalesim.scale_sim.scalesim, GEMM input,
USER bandwidth mode, no custom layout, no sparsity, no Ramulator), in a temporary
directory.  The output CSV has one row per run: the inputs, every column of
COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv under
SCALE-Sim's own header names, and the wall time of the run.  It is written
atomically (temp file + rename); the first line is a '#' comment with the command.

Bandwidth keys (USER mode, verified in scalesim/single_layer_sim.py):
  ifmap DRAM->SRAM words/cycle  = [layout] IfmapSRAMBankBandwidth
  filter DRAM->SRAM words/cycle = [layout] FilterSRAMBankBandwidth
  ofmap SRAM->DRAM words/cycle  = first entry of [architecture_presets] Bandwidth
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import random
import shutil
import sys
import tempfile
import time

COMMAND = "/work/scalesim-venv/bin/python benchmarks/scalesim_reference/make_reference.py"
SEED = 20240611
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "benchmarks", "results", "scalesim_reference.csv")

INPUT_COLS = ["case_id", "regime", "dataflow", "R", "C", "M", "N", "K",
              "ifmap_kb", "filter_kb", "ofmap_kb", "ifmap_bw", "filter_bw", "ofmap_bw"]
COMPUTE_COLS = ["Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles",
                "Overall Util %", "Mapping Efficiency %", "Compute Util %"]
BANDWIDTH_COLS = ["Avg IFMAP SRAM BW", "Avg FILTER SRAM BW", "Avg OFMAP SRAM BW",
                  "Avg IFMAP DRAM BW", "Avg FILTER DRAM BW", "Avg OFMAP DRAM BW"]
DETAIL_COLS = [f"{a} {b} {c}" for a in ("SRAM",) for b in ("IFMAP", "Filter", "OFMAP")
               for c in ("Start Cycle", "Stop Cycle",
                         "Writes" if b == "OFMAP" else "Reads")]
DETAIL_COLS += [f"DRAM {b} {c}" for b in ("IFMAP", "Filter", "OFMAP")
                for c in ("Start Cycle", "Stop Cycle", "Writes" if b == "OFMAP" else "Reads")]
ALL_COLS = INPUT_COLS + COMPUTE_COLS + BANDWIDTH_COLS + DETAIL_COLS + ["wall_s"]


# --------------------------------------------------------------------------------------
# Case list
# --------------------------------------------------------------------------------------

def _kb_holding(nbytes, factor=1):
    """Smallest integer KB that holds factor*nbytes bytes (word size 1 byte)."""
    return max(1, math.ceil(factor * nbytes / 1024))


def _demand_rows(df, R, C, M, N, K):
    """Stall-free SCALE-Sim cycles + 1 (one demand row per cycle); used to bound run time."""
    c = lambda a, b: -(-a // b)
    return {"os": c(M, R) * c(N, C) * (R + C + K - 2),
            "ws": c(K, R) * c(N, C) * (2 * R + C + M - 2),
            "is": c(K, R) * c(M, C) * (2 * R + C + N - 2)}[df]


MAX_ROWS = 100_000   # SCALE-Sim needs ~70 us per demand row: keeps each run under ~10 s


def build_cases():
    """Deterministic list of cases (seeded)."""
    rng = random.Random(SEED)
    arrays = [(4, 4), (8, 8), (16, 16), (32, 32), (8, 16), (16, 8), (4, 8)]
    cases = []

    def add(regime, df, R, C, M, N, K, ikb, fkb, okb, ibw, fbw, obw):
        assert _demand_rows(df, R, C, M, N, K) <= MAX_ROWS
        cases.append(dict(case_id=len(cases), regime=regime, dataflow=df, R=R, C=C,
                          M=M, N=N, K=K, ifmap_kb=ikb, filter_kb=fkb, ofmap_kb=okb,
                          ifmap_bw=ibw, filter_bw=fbw, ofmap_bw=obw))

    dims = [32, 48, 64, 80, 96, 128, 160]

    def pick(df, R, C):
        """Draw M, N, K; halve the largest until the run stays under MAX_ROWS demand rows."""
        M, N, K = (rng.choice(dims) for _ in range(3))
        while _demand_rows(df, R, C, M, N, K) > MAX_ROWS:
            if K >= max(M, N):
                K //= 2
            elif N >= M:
                N //= 2
            else:
                M //= 2
        return M, N, K
    # 1. Small SRAMs: operands much larger than the 1-4 KB buffers, re-read from DRAM.
    for df in ("os", "ws", "is"):
        for i in range(12):
            R, C = arrays[(i + "owi".index(df[0])) % len(arrays)]
            M, N, K = pick(df, R, C)
            ikb, fkb, okb = (rng.choice([1, 1, 2, 4]) for _ in range(3))
            ibw, fbw, obw = (rng.choice([1, 2, 4, 8]) for _ in range(3))
            add("small", df, R, C, M, N, K, ikb, fkb, okb, ibw, fbw, obw)
    # 2. Large SRAMs: each SRAM just holds its whole operand (KB = ceil(bytes/1024)).
    for df in ("os", "ws", "is"):
        for i in range(7):
            R, C = arrays[(2 * i + len(df)) % len(arrays)]
            M, N, K = pick(df, R, C)
            ibw, fbw, obw = (rng.choice([1, 2, 4]) for _ in range(3))
            add("large", df, R, C, M, N, K, _kb_holding(M * K), _kb_holding(K * N),
                _kb_holding(M * N), ibw, fbw, obw)
    # 3. Large-2x SRAMs: the whole operand fits in the ACTIVE half (KB = ceil(2*bytes/1024)).
    for df in ("os", "ws", "is"):
        for i in range(5):
            R, C = arrays[(3 * i + len(df)) % len(arrays)]
            M, N, K = pick(df, R, C)
            ibw, fbw = rng.choice([1, 2]), rng.choice([1, 2])
            obw = rng.choice([1, 2])
            add("large2x", df, R, C, M, N, K, _kb_holding(M * K, 2), _kb_holding(K * N, 2),
                _kb_holding(M * N, 2), ibw, fbw, obw)
    # 4. Mixed: one small buffer, the others large-2x.
    for i, df in enumerate(("os", "ws", "is", "os", "ws", "is")):
        R, C = arrays[i % len(arrays)]
        M, N, K = pick(df, R, C)
        kbs = [_kb_holding(M * K, 2), _kb_holding(K * N, 2), _kb_holding(M * N, 2)]
        kbs[i % 3] = 1
        bws = [16, 16, 16]
        bws[i % 3] = rng.choice([1, 2])
        add("mixed", df, R, C, M, N, K, *kbs, *bws)
    # 5. Controls: bandwidth so high that no stall can occur (small and large SRAMs).
    for i in range(10):
        df = ("os", "ws", "is")[i % 3]
        R, C = arrays[i % len(arrays)]
        M, N, K = pick(df, R, C)
        if i % 2:
            kbs = (1, 1, 1)
        else:
            kbs = (_kb_holding(M * K), _kb_holding(K * N), _kb_holding(M * N))
        add("nostall", df, R, C, M, N, K, *kbs, 4096, 4096, 4096)
    return cases


def random_cases(n, seed):
    """Wider random sample (edge cases: 1-wide arrays, dims < array, odd bandwidths)."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        df = rng.choice(["os", "ws", "is"])
        R, C = rng.choice([1, 2, 3, 4, 8, 16, 32]), rng.choice([1, 2, 4, 5, 8, 16, 32])
        M, N, K = (rng.randint(1, 160) for _ in range(3))
        if _demand_rows(df, R, C, M, N, K) > MAX_ROWS:
            continue
        kbs = [rng.choice([1, 1, 2, 3, 8, 32]) for _ in range(3)]
        bws = [rng.choice([1, 2, 3, 4, 8, 16, 100]) for _ in range(3)]
        cases.append(dict(case_id=len(cases), regime="random", dataflow=df, R=R, C=C, M=M,
                          N=N, K=K, ifmap_kb=kbs[0], filter_kb=kbs[1], ofmap_kb=kbs[2],
                          ifmap_bw=bws[0], filter_bw=bws[1], ofmap_bw=bws[2]))
    return cases


# --------------------------------------------------------------------------------------
# One SCALE-Sim run
# --------------------------------------------------------------------------------------

CFG_TEMPLATE = """[general]
run_name = ref

[architecture_presets]
ArrayHeight : {R}
ArrayWidth : {C}
IfmapSramSzkB : {ifmap_kb}
FilterSramSzkB : {filter_kb}
OfmapSramSzkB : {ofmap_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {ofmap_bw}
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : {ifmap_bw}
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : {filter_bw}
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : USER
UseRamulatorTrace : False
"""


def _read_report(path):
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",") if h.strip()]
    values = [v.strip() for v in lines[1].split(",") if v.strip()]
    return dict(zip(header, values))


def run_case(case):
    from scalesim.scale_sim import scalesim  # only available in the SCALE-Sim venv

    tmp = tempfile.mkdtemp(prefix="scalesim_ref_")
    try:
        cfg = os.path.join(tmp, "ref.cfg")
        topo = os.path.join(tmp, "gemm.csv")
        layout = os.path.join(tmp, "layout.csv")
        with open(cfg, "w") as f:
            f.write(CFG_TEMPLATE.format(**case))
        with open(topo, "w") as f:
            f.write("Layer, M, N, K,\n")
            f.write(f"gemm0, {case['M']}, {case['N']}, {case['K']},\n")
        with open(layout, "w") as f:  # required by the loader, unused without custom layout
            f.write("Layer," + ",".join(f"x{i}" for i in range(20)) + ",\n")
            f.write("gemm0," + ",".join(["1"] * 20) + ",\n")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
                           layout=layout, input_type_gemm=True)
            sim.run_scale(top_path=os.path.join(tmp, "out"))
        wall = time.perf_counter() - t0
        rep = os.path.join(tmp, "out", "ref")
        row = dict(case)
        for name, cols in (("COMPUTE_REPORT", COMPUTE_COLS), ("BANDWIDTH_REPORT", BANDWIDTH_COLS),
                           ("DETAILED_ACCESS_REPORT", DETAIL_COLS)):
            rep_row = _read_report(os.path.join(rep, name + ".csv"))
            for col in cols:
                row[col] = rep_row[col]
        row["wall_s"] = f"{wall:.2f}"
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)

    cases = random_cases(args.random, args.seed) if args.random else build_cases()
    if args.list:
        for c in cases:
            print(c)
        return 0
    if args.only:
        ids = {int(x) for x in args.only.split(",")}
        for c in cases:
            if c["case_id"] in ids:
                print(run_case(c))
        return 0

    import numpy
    import scalesim  # noqa: F401
    from importlib.metadata import version
    ver = version("scalesim")
    if ver != "3.0.0":
        print(f"warning: scalesim {ver} installed, this reference is for 3.0.0", file=sys.stderr)

    rows = []
    t_all = time.perf_counter()
    for c in cases:
        row = run_case(c)
        rows.append(row)
        print(f"[{c['case_id']:3d}] {c['regime']:8s} {c['dataflow']} {c['R']}x{c['C']} "
              f"M{c['M']} N{c['N']} K{c['K']} kb={c['ifmap_kb']},{c['filter_kb']},"
              f"{c['ofmap_kb']} bw={c['ifmap_bw']},{c['filter_bw']},{c['ofmap_bw']} -> "
              f"total={row['Total Cycles']} stall={row['Stall Cycles']} "
              f"({row['wall_s']} s)", flush=True)

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".scalesim_reference.", dir=os.path.dirname(out))
    with os.fdopen(fd, "w", newline="") as f:
        cmd = COMMAND + (f" --random {args.random} --seed {args.seed} --out {args.out}"
                         if args.random else "")
        f.write(f"# {cmd}  (scalesim=={ver}, numpy=={numpy.__version__}, "
                f"seed {args.seed})\n")
        w = csv.DictWriter(f, fieldnames=ALL_COLS)
        w.writeheader()
        w.writerows(rows)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    n_stall = sum(int(r["Stall Cycles"]) > 0 for r in rows)
    print(f"wrote {len(rows)} runs ({n_stall} with stalls) to {out} "
          f"in {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
