"""`sslcsim reproduce table4`: the SSLC paper's Table 4 beside our cycles.
`sslcsim reproduce table5`: the paper's Table 5 (decode throughput on a GPU) beside ours.
`sslcsim reproduce --from REPORT.json`: re-run a simulate report from its provenance and check
that every number is the same."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from workloads.errors import InputError

HWCONFIGS = Path(__file__).resolve().parents[2] / "hwconfigs"
DEFAULT_HW = {"table4": HWCONFIGS / "sslc-table4.yaml", "table5": HWCONFIGS / "gpu-a100-like.yaml"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce a paper result (table4) or a report (--from)")
    p.add_argument("what", nargs="?", choices=["table4", "table5"], help="which result")
    p.add_argument("--from", dest="from_report", metavar="REPORT",
                   help="a JSON report of `sslcsim simulate`: re-run it and compare every number")
    p.add_argument("--hw", help="hardware YAML (default: hwconfigs/sslc-table4.yaml for table4, "
                   "hwconfigs/gpu-a100-like.yaml for table5)")
    p.add_argument("--ratio", type=float, default=0.5, help="kept fraction (default 0.5)")
    p.add_argument("--rank", type=int, default=128, help="rank r (default 128)")
    p.add_argument("--preserve", type=float, default=0.01, help="preserved fraction (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt", type=int, default=128, help="table5: prompt tokens (default 128)")
    p.add_argument("--new-tokens", type=int, default=1024, help="table5: generated tokens (default 1024, the paper's)")
    p.add_argument("--samples", type=int, default=17,
                   help="table5: decode steps simulated exactly, the rest interpolated (default 17; 0: every step)")
    p.add_argument("--json", metavar="OUT", help="write the rows as JSON")
    p.set_defaults(func=main)


def render(rows: list[dict]) -> str:
    from rich.console import Console
    from rich.table import Table

    from simulator.reproduce.table4 import matching_reading

    table = Table(title="SSLC Table 4: cycles per layer, one token, 4096 MACs, compute only (ours / paper)")
    for col in ("model", "module", "S density reading", "generator", "dense", "sparse", "low-rank", "sum",
                "speedup", "sparse err", "sum err"):
        table.add_column(col, justify="right")
    for r in rows:
        p = r["paper"]
        table.add_row(r["model"], r["module"], r["reading"], r["generator"],
                      f"{r['dense']:.0f} / {p['dense']}", f"{r['sparse']:.1f} / {p['sparse']}",
                      f"{r['lowrank']:.0f} / {p['lowrank']}", f"{r['sum']:.1f} / {p['sum']}",
                      f"{r['speedup']:.2f}x / {p['speedup']}x", f"{r['error_pct']['sparse']:+.1f}%",
                      f"{r['error_pct']['sum']:+.1f}%")
    console = Console(file=io.StringIO(), width=170)
    console.print(table)
    match = matching_reading(rows)
    for reading, ok in match.items():
        what = ("S density = ratio" if reading == "ratio"
                else "S density = ratio - r(m+n)/(mn), the paper's Section 4.2.3 accounting")
        console.print(f"reading '{reading}' ({what}): sparse and sum {'within' if ok else 'NOT within'} 5% "
                      f"of the paper for every model, module and generator")
    return console.file.getvalue()


def main(args: argparse.Namespace) -> int:
    # imported here so that other commands and --help start without numba and pydantic
    from simulator.config import load_hw
    from simulator.reports.files import atomic_write, check_output_path
    from simulator.reproduce.table4 import reproduce_table4

    if args.from_report:
        return from_report(args.from_report)
    if args.what is None:
        raise InputError("reproduce: give a result (table4) or --from REPORT.json")
    if args.json:
        check_output_path(args.json)  # before any work
    hw = load_hw(args.hw or DEFAULT_HW[args.what])
    if args.what == "table5":
        return table5_main(args, hw)
    rows = reproduce_table4(hw, args.ratio, args.rank, args.preserve, args.seed)
    print(render(rows), end="")
    if args.json:
        atomic_write(args.json, json.dumps(rows, indent=1))
    return 0


def render_table5(res: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"SSLC Table 5: {res['model']} decode, {res['new_tokens']} tokens, batch 1, prompt "
                        f"{res['prompt']}, on {res['hardware']} (ours / paper)")
    for col in ("reading", "sparsity", "tokens/s", "speedup", "error", "bytes/weight", "paper-implied bytes/weight"):
        table.add_column(col, justify="right")
    table.add_row("dense", "0%", f"{res['dense_tokens_per_s']:.2f} / {res['paper_dense_tokens_per_s']}", "1.00x / 1.00x",
                  "", f"{res['dense_bytes_per_weight']:.3f}", f"{res['dense_bytes_per_weight']:.3f}")
    for r in res["rows"]:
        table.add_row(r["reading"], f"{r['sparsity']:.0%}", f"{r['tokens_per_s']:.2f} / {r['paper_tokens_per_s']}",
                      f"{r['speedup']:.2f}x / {r['paper_speedup']:.2f}x", f"{r['error_pct']:+.1f}%",
                      f"{r['bytes_per_weight']:.3f}", f"{r['paper_implied_bytes_per_weight']:.3f}")
    console = Console(file=io.StringIO(), width=140)
    console.print(table)
    console.print(f"method: {res['method']}. tokens/s = generated tokens / (prefill + decode time). Bytes/weight: "
                  "projection DRAM bytes of a decode step per projection weight; the paper's is what its tokens/s "
                  "imply at its dense run's effective bandwidth. See docs/table5.md.")
    return console.file.getvalue()


def table5_main(args: argparse.Namespace, hw) -> int:
    from tqdm import tqdm

    from simulator.reports.files import atomic_write
    from simulator.schedule.generation import step_indices
    from simulator.reproduce.table5 import READINGS, SPARSITIES, reproduce_table5

    samples = None if args.samples == 0 else args.samples
    runs = (1 + len(READINGS) * len(SPARSITIES)) * (1 + len(step_indices(max(args.new_tokens, 1), samples)))
    with tqdm(total=runs, desc="steps simulated", unit="step", leave=False) as bar:
        res = reproduce_table5(hw, args.prompt, args.new_tokens, samples, args.seed, progress=bar.update)
    print(render_table5(res), end="")
    if args.json:
        atomic_write(args.json, json.dumps(res, indent=1))
    return 0


def _rerun(prov: dict, source: str) -> dict:
    """The report re-simulated from a report's provenance."""
    from simulator.api import simulate_shape, simulate_workloads
    from simulator.config import parse_hw
    from simulator.reports.provenance import canonical_sha256, manifest_sha256
    from workloads.budget import Budget
    from workloads.from_artifact import from_artifact
    from workloads.presets import ModelShape

    hw = parse_hw(prov["hardware"], f"{source}: provenance.hardware")
    if canonical_sha256(prov["hardware"]) != prov["hardware_sha256"]:
        raise InputError(f"{source}: provenance.hardware does not match its hardware_sha256")
    w = prov["workload"]
    scope, context = w.get("scope", "projections"), w.get("context", 0)  # reports before 0.3.0: projections
    if w["kind"] == "shape":
        alloc = None
        if "allocation" in w:
            alloc = {(int(k.split(".")[0]), k.split(".", 1)[1]): (int(v[0]), float(v[1])) for k, v in w["allocation"].items()}
        return simulate_shape(ModelShape(**w["model"]), hw, Budget(**w["budget"]), w["phase"], w["batch"], w["seq"],
                              w["seed"], w["layers"], scope, context, alloc)
    if manifest_sha256(w["artifact"]) != w["manifest_sha256"]:
        raise InputError(f"{source}: the artifact {w['artifact']} is missing or not the one the report used "
                         "(manifest sha256 differs)")
    expected = ModelShape(**w["model"]) if w["model"] else None
    comp, dense = from_artifact(w["artifact"], w["phase"], w["batch"], w["seq"], expected)
    return simulate_workloads(comp.with_scope(scope, context), dense.with_scope(scope, context), hw)


def from_report(path: str) -> int:
    """Re-runs a report from its provenance; 0 when every number is identical, else 1."""
    from simulator import __version__
    from simulator.reports.provenance import NUMBERS, differences, read_json_report

    old = read_json_report(path)
    prov = old.get("provenance")
    if not isinstance(prov, dict):
        raise InputError(f"{path}: no provenance block (a report of `sslcsim simulate` from 0.2.0 on)")
    try:
        new = _rerun(prov, path)
    except (KeyError, TypeError) as exc:
        raise InputError(f"{path}: provenance is incomplete ({type(exc).__name__}: {exc})") from None
    new = json.loads(json.dumps(new))  # the same float rendering as the file
    diff = [d for key in NUMBERS for d in differences(old.get(key), new.get(key), key)]
    version = prov.get("simulator_version")
    note = "" if version == __version__ else f" (report from simulator {version}, this is {__version__})"
    if diff:
        print(f"{path}: {len(diff)} numbers differ{note}, first: {', '.join(diff[:5])}")
        return 1
    print(f"{path}: every number identical on re-run{note} ({prov.get('command')})")
    return 0
