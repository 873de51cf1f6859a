"""Runs real SCALE-Sim 3.0.0 on the example files in examples/scalesim/ and records its
COMPUTE_REPORT, so `sslcsim simulate --scalesim-config ... --topology ...` can be checked
against it (tests/test_cli_scalesim.py). Runs ONLY in a separate venv with scalesim==3.0.0
and numpy<2.3 (never a dependency of the project):

    /work/scalesim-venv/bin/python benchmarks/scalesim_reference/run_example.py

Writes benchmarks/results/scalesim_example_reference.csv (config, layer, report columns).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from scalesim.scale_sim import scalesim

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "scalesim"
CONFIGS = ("scale.cfg", "scale_user_bw.cfg")
TOPOLOGY = EXAMPLES / "tiny_llm_block.csv"
OUT = ROOT / "benchmarks" / "results" / "scalesim_example_reference.csv"


def run(cfg: Path, tmp: str) -> list[dict]:
    layers = [line.split(",")[0] for line in TOPOLOGY.read_text().splitlines()[1:] if line.strip()]
    layout = os.path.join(tmp, "layout.csv")
    with open(layout, "w") as f:  # the loader wants one; unused without a custom layout
        f.write("Layer," + ",".join(f"x{i}" for i in range(20)) + ",\n")
        for name in layers:
            f.write(name + "," + ",".join(["1"] * 20) + ",\n")
    out = os.path.join(tmp, cfg.stem)
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(TOPOLOGY), layout=layout,
                       input_type_gemm=True)
        sim.run_scale(top_path=out)
    run_dir = next(Path(out).iterdir())
    with open(run_dir / "COMPUTE_REPORT.csv") as f:
        rows = [{k.strip(): v.strip() for k, v in r.items() if k and k.strip()} for r in csv.DictReader(f)]
    return [{"config": cfg.name, "layer": name, **r} for name, r in zip(layers, rows)]


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="scalesim_example_")
    try:
        rows = [r for c in CONFIGS for r in run(EXAMPLES / c, tmp)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    part = OUT.with_suffix(".tmp")
    with open(part, "w", newline="") as f:
        f.write("# /work/scalesim-venv/bin/python benchmarks/scalesim_reference/run_example.py  (scalesim==3.0.0)\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(part, OUT)
    print(f"{len(rows)} layers -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
