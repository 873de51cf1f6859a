"""How much of sslc-obs:global's lead over SparseGPT is the allocation? SparseGPT run with the
per-projection kept counts that global allocation chose for sslc-obs (all of each budget as
sparse entries; global allocation is not offered for SparseGPT itself), SmolLM2-135M, the
calibration and evaluation of compression_smollm2.md.

  python benchmarks/bench_allocation_transfer.py [--ratios 0.5 0.4] [--workdir /tmp/sslcsim-bench]
      needs the sslc-obs-global_<ratio> artifacts of `bench_compression.py smollm2` in --workdir
      -> benchmarks/results/allocation_transfer.md|json
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.4])
    ap.add_argument("--workdir", default="/tmp/sslcsim-bench")
    args = ap.parse_args()
    from compression import allocation, methods, models, pipeline

    rows = []
    methods.SPLIT_ALLOCATED += ("sparsegpt",)  # the one-off: SparseGPT takes a global allocation only here
    for ratio in args.ratios:
        src = Path(args.workdir) / f"sslc-obs-global_{ratio}" / "manifest.json"
        shares = {k: allocation.Share(kept, 0) for k, (kept, _rank) in json.loads(src.read_text())["allocation"].items()}
        allocation.plan = lambda *a, shares=shares, **k: shares  # noqa: E731  (this ratio's budgets, all sparse)
        out = Path(args.workdir) / f"sparsegpt-transfer_{ratio}"
        t = time.perf_counter()
        pipeline.compress_model(models.load("smollm2-135m"), "sparsegpt", {"ratio": ratio, "allocation": "global"}, 0,
                                str(out), calib_samples=16, calib_seqlen=512, overwrite=True, show_progress=False)
        wall = time.perf_counter() - t
        ev = [sys.executable, "-m", "sslcsim.cli", "evaluate", "--model", "smollm2-135m", "--artifact", str(out),
              "--windows", "16", "--seqlen", "512", "--dense-weights"]
        p = subprocess.run(ev, cwd=ROOT, capture_output=True, text=True, check=True)
        ppl = json.loads(p.stdout[p.stdout.index("{"):])["perplexity"]
        rows.append({"ratio": ratio, "ppl": ppl, "compress_s": wall, "allocation_from": str(src)})
        print(json.dumps(rows[-1]), flush=True)
    cmd = " ".join(shlex.quote(a) for a in sys.argv)
    (RESULTS / "allocation_transfer.json").write_text(json.dumps({"command": cmd, "rows": rows}, indent=1))
    md = ["# SparseGPT with sslc-obs:global's allocation (SmolLM2-135M)", "", f"Command: `{cmd}`", "",
          "Calibration 16 x 512, evaluation `--windows 16 --seqlen 512 --dense-weights` (as compression_smollm2.md).", "",
          "| ratio | perplexity | compression (s) |", "|---|---|---|"]
    md += [f"| {r['ratio']} | {r['ppl']:.2f} | {r['compress_s']:.0f} |" for r in rows]
    (RESULTS / "allocation_transfer.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
