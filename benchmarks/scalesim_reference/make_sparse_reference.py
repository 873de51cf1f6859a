"""Runs real SCALE-Sim 3.0.0 on GEMMs with its layer-wise N:M sparsity (topology column
"Sparsity" = N:M, [sparsity] SparsitySupport true, OptimizedMapping false) and records its
COMPUTE_REPORT cycles and SPARSE_REPORT storage, so the N:M denser engine's `scalesim`
timing mode can be checked against it (tests/simulator/test_nm_engine.py). Runs ONLY in a
separate venv with scalesim==3.0.0 and numpy<2.3 (never a dependency of the project):

    python3 -m venv /tmp/ssenv && /tmp/ssenv/bin/pip install 'scalesim==3.0.0' 'numpy<2.3'
    /tmp/ssenv/bin/python benchmarks/scalesim_reference/make_sparse_reference.py

Cases: SCALE-Sim's own sparse example (configs/sparsity.cfg: 128 x 128 WS, 256 KB SRAMs,
USER bandwidth 50, ellpack_block; topologies/sparsity/gemm.csv: M, N, K = 3, 5, 16 at 3:4 and
1, 5, 16 at 1:4; the [layout] section 3.0.0 requires added with the defaults of
examples/scalesim/scale.cfg), then seeded random GEMMs on small arrays, every dataflow, N:M
with N < M, CALC bandwidth (stall-free). Writes benchmarks/results/scalesim_sparse_reference.csv.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import shutil
import tempfile
from pathlib import Path

from scalesim.scale_sim import scalesim

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results" / "scalesim_sparse_reference.csv"
CFG = """[general]
run_name = sparse

[architecture_presets]
ArrayHeight:    {R}
ArrayWidth:     {C}
IfmapSramSzkB:   256
FilterSramSzkB:  256
OfmapSramSzkB:   256
IfmapOffset:    0
FilterOffset:   100
OfmapOffset:    200
Bandwidth : 50
Dataflow : {df}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 100
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 100
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : true
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 4
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {bw}
UseRamulatorTrace: False
"""


def run(R: int, C: int, df: str, bw: str, rows: list[tuple], tmp: str) -> list[dict]:
    """One SCALE-Sim run of GEMM layers (M, N, K, "n:m"); per layer its report columns."""
    cfg, topo, layout = (os.path.join(tmp, f) for f in ("c.cfg", "t.csv", "layout.csv"))
    Path(cfg).write_text(CFG.format(R=R, C=C, df=df, bw=bw))
    Path(topo).write_text("Layer Name, M, N, K, Sparsity,\n" + "".join(
        f"L{i}, {M}, {N}, {K}, {s},\n" for i, (M, N, K, s) in enumerate(rows)))
    Path(layout).write_text("Layer," + ",".join(f"x{i}" for i in range(20)) + ",\n" + "".join(
        f"L{i}," + ",".join(["1"] * 20) + ",\n" for i in range(len(rows))))
    out = os.path.join(tmp, "out")
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                       input_type_gemm=True)
        sim.run_scale(top_path=out)
    run_dir = next(Path(out).iterdir())
    reports = {}
    for name in ("COMPUTE_REPORT", "SPARSE_REPORT"):
        with open(run_dir / f"{name}.csv") as f:
            reports[name] = [{k.strip(): v.strip() for k, v in r.items() if k and k.strip()} for r in csv.DictReader(f)]
    shutil.rmtree(out)
    return [{"dataflow": df, "R": R, "C": C, "bandwidth": bw, "M": M, "N": N, "K": K, "sparsity": s,
             "total_cycles": c["Total Cycles"], "stall_cycles": c["Stall Cycles"],
             "new_storage": sp["New Storage (Filter+Metadata)"], "metadata_storage": sp["Filter Metadata Storage"]}
            for (M, N, K, s), c, sp in zip(rows, reports["COMPUTE_REPORT"], reports["SPARSE_REPORT"])]


def main(trials: int = 24, seed: int = 7) -> int:
    tmp = tempfile.mkdtemp(prefix="scalesim_sparse_")
    rng = random.Random(seed)
    try:
        rows = run(128, 128, "ws", "USER", [(3, 5, 16, "3:4"), (1, 5, 16, "1:4")], tmp)  # its own example
        for _ in range(trials):
            R, C, df = rng.choice([4, 8, 16]), rng.choice([4, 8, 16]), rng.choice(["ws", "os", "is"])
            layers = []
            for _ in range(4):
                m = rng.choice([2, 4, 8])
                layers.append((rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 70), f"{rng.randint(1, m - 1)}:{m}"))
            rows += run(R, C, df, "CALC", layers, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    part = OUT.with_suffix(".tmp")
    with open(part, "w", newline="") as f:
        f.write("# /tmp/ssenv/bin/python benchmarks/scalesim_reference/make_sparse_reference.py  (scalesim==3.0.0)\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(part, OUT)
    print(f"{len(rows)} layers -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
