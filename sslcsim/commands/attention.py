"""`sslcsim attention`: attention-core cycles (SDDMM Q K^T + SpMM P V) of attention-map masks.

The masks come from a .npy file (--mask) or a seeded generator (--synthetic). Each cost model
is a mode in MODES: a function of (masks, args) that returns its table columns, per-layer
cells, summary lines and JSON block, so another mode is one more entry and its columns sit
beside the others in the same table. "vitcod-compatible": ViTCoD's own attention simulator's
numbers (simulator/vitcod/attention.py); "physical": this simulator's tiles and scheduler on
a hardware config (--hw), the masks run as one prefill of N tokens, batch 1, attention core
only (workloads.attention_masks.attention_core_workload, simulator/program/layer_ops.py).

A mask file holds 0s and 1s; --mask-convention says whether 1 is kept (the default) or
pruned (ViTCoD's files; --vitcod-convention is the same). Left unstated, a file that reads
as more than half kept gets one warning line on stderr and the run goes on (exit 0): dense
masks are legitimate (a causal one is just over half kept), but a ViTCoD file read the
wrong way round looks like that too. --pe-width mirrors ViTCoD's --PE_width (W and H_eff).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from workloads.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from simulator.schedule.run import RunResult
    from simulator.vitcod.attention import VitcodParams

DEFAULT_HW = Path(__file__).resolve().parents[2] / "hwconfigs" / "vitcod.yaml"
GENERATOR_OPTIONS = {"polarized": ("global_tokens", "density"), "window": ("window",), "topk": ("k",)}
CONVENTIONS = ("kept", "pruned")  # workloads.attention_masks.CONVENTIONS, named here so --help needs no numpy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attention", help="attention-core cycles of attention-map masks "
                       "(ViTCoD-compatible and physical)",
                       description="Per-layer SDDMM/SpMM/preload cycles of ViTCoD's attention simulator for a "
                                   "mask file or a synthetic mask, beside this simulator's scheduled cycles on a "
                                   "hardware config (--hw). See docs/vitcod-simulator.md.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mask", metavar="FILE.npy", help="masks (layers, heads, N, N) or (heads, N, N), holding "
                     "only the values 0 and 1 (bool, integer or float); what 1 means: --mask-convention")
    src.add_argument("--synthetic", choices=sorted(GENERATOR_OPTIONS), help="a seeded synthetic mask")
    conv = p.add_mutually_exclusive_group()
    conv.add_argument("--mask-convention", choices=CONVENTIONS,
                      help="what a 1 (True) in the mask file means: kept (default) or pruned (ViTCoD's "
                           "info_*.npy files); left unstated, a file more than half kept gets a one-line warning")
    conv.add_argument("--vitcod-convention", dest="mask_convention", action="store_const", const="pruned",
                      help="the same as --mask-convention pruned")
    p.add_argument("--layers", type=int, help="synthetic: layers")
    p.add_argument("--heads", type=int, help="synthetic: heads per layer")
    p.add_argument("--tokens", type=int, help="synthetic: tokens N (maps are N x N)")
    p.add_argument("--global-tokens", type=int, help="polarized: key columns kept for every query")
    p.add_argument("--density", type=float, help="polarized: keep probability of every other score")
    p.add_argument("--window", type=int, help="window: keys per side (|i - j| < W), or before and at i with --causal")
    p.add_argument("--causal", action="store_true", help="window: causal band 0 <= i - j < W")
    p.add_argument("--k", type=int, help="topk: kept keys per query")
    p.add_argument("--seed", type=int, default=0, help="synthetic: seed of polarized/topk (default 0)")
    p.add_argument("--head-dim", type=int, default=64, help="D, features per head (default 64; ViTCoD's --feature_dim)")
    p.add_argument("--threshold", type=int, default=50,
                   help="a key column with more kept scores than this is global (default 50, ViTCoD's)")
    p.add_argument("--ratio", type=float, default=2 / 3, help="Q/K encoder compression (default 2/3; ViTCoD's --ratio)")
    p.add_argument("--pe-width", type=int, help="ViTCoD's --PE_width P: W = H_eff = P, as b2f7fb5 reads it "
                   "(not with --width or --h-eff)")
    p.add_argument("--width", type=int, help="W alone, lines shared by the two engines (default 64); "
                   "ViTCoD's --PE_width also sets --h-eff: use --pe-width")
    p.add_argument("--h-eff", type=int, help="H_eff alone, MAC rows per line shared by the heads "
                   "(default 64 as ViTCoD b2f7fb5; 8, with --width 64, for its older versions)")
    p.add_argument("--v-load-factor", type=float, default=1.0, help="1 (b2f7fb5) or 1.5 (older versions) "
                   "on the sparse V load")
    p.add_argument("--hw", default=str(DEFAULT_HW), help="physical mode: hardware YAML (default hwconfigs/vitcod.yaml)")
    p.add_argument("--json", metavar="OUT", help="write the per-layer results and totals as JSON")
    p.set_defaults(func=main)


@dataclass
class ModeResult:
    """One mode's share of the output: its table columns and per-layer cells (one list per
    layer), the lines printed under the table, and its JSON block."""

    columns: list[str]
    cells: list[list[str]]
    summary: list[str]
    data: dict


def _num(x: float) -> str:
    """Cycles as ViTCoD counts them: integral floats (the x1.5 V load) without the '.0'."""
    return str(int(x)) if x == int(x) else f"{x:.1f}"


def vitcod_params(args: argparse.Namespace) -> VitcodParams:
    """The ViTCoD-compatible mode's knobs from the flags: --pe-width P is ViTCoD's --PE_width
    (W = H_eff = P, VitcodParams.from_pe_width); otherwise --width and --h-eff, 64 each
    unless given."""
    from simulator.vitcod.attention import VitcodParams

    others = {"head_dim": args.head_dim, "ratio": args.ratio, "threshold": args.threshold,
              "v_load_factor": args.v_load_factor}
    if args.pe_width is None:
        return VitcodParams(width=64 if args.width is None else args.width,
                            h_eff=64 if args.h_eff is None else args.h_eff, **others)
    if args.width is not None or args.h_eff is not None:
        raise InputError("attention: --pe-width sets both W and H_eff (as ViTCoD's --PE_width does); "
                         "give it without --width and --h-eff")
    return VitcodParams.from_pe_width(args.pe_width, **others)


def vitcod_compatible(masks: np.ndarray, args: argparse.Namespace) -> ModeResult:
    """The ViTCoD-compatible mode: ViTCoD's own attention simulator's numbers."""
    from simulator.vitcod.attention import vitcod_attention

    params = vitcod_params(args)
    r = vitcod_attention(masks, params)
    cells = [[str(c.gt), str(c.nnz), f"{c.dw}/{c.sw}", f"{c.sddmm_dense}/{c.sddmm_sparse}",
              f"{c.spmm_dense}/{c.spmm_sparse}", _num(c.preload), str(c.pre), "yes" if c.vitcod_crash else "-"]
             for c in r.layers]
    summary = [
        f"ViTCoD-compatible numbers (ViTCoD's attention simulator, b2f7fb5 arithmetic: head 0's mask per layer, "
        f"threshold {params.threshold}, W = {params.width}, H_eff = {params.h_eff}, D = {params.head_dim}, 500 MHz):",
        f"  preload {_num(r.preload)}, PRE {r.pre}, SDDMM + SpMM {r.compute}; "
        f"total = max(preload, PRE + SDDMM + SpMM) = {_num(r.total)} cycles",
    ]
    summary += [f"  layer {c.layer}: ViTCoD's script raises {c.vitcod_crash} (row: defined values, "
                "docs/vitcod-simulator.md)" for c in r.layers if c.vitcod_crash]
    if r.first_crash_layer is not None:
        summary.append(f"  ViTCoD's own script would stop at layer {r.first_crash_layer} and print no totals")
    columns = ["gt", "nnz", "dw/sw", "SDDMM d/s", "SpMM d/s", "preload", "PRE", "crash"]
    return ModeResult(columns, cells, summary, r.as_dict())


ATTENTION_KINDS = ("qk_dense", "qk_sparse", "softmax", "pv_dense", "pv_sparse")


def physical_layers(r: RunResult) -> list[dict]:
    """Per layer, from the schedule of an attention-core workload: compute cycles of each op
    kind summed over heads (ATTENTION_KINDS), memory-stall cycles and DRAM bytes of the
    attention ops, and `cycles`, the core's span: its first tile's request to its output's
    write-back done."""
    p = r.program
    out = [{"layer": layer, **dict.fromkeys(ATTENTION_KINDS, 0), "memory_stall": 0, "dram_bytes": 0, "first": None,
            "done": 0} for layer in range(r.workload.model.num_layers)]
    for o, (layer, proj, part) in enumerate(zip(p.op_layer, p.op_proj, p.op_part)):
        if proj != "attn_core":
            continue
        row, kind = out[layer], part.split(".")[0]
        if kind in ATTENTION_KINDS:
            row[kind] += int(r.op_busy[o])
        row["memory_stall"] += int(r.op_stall[o])
        row["dram_bytes"] += int(r.op_dram[o])
        row["first"] = int(r.op_first[o]) if row["first"] is None else min(row["first"], int(r.op_first[o]))
        row["done"] = max(row["done"], int(r.op_done[o]))
    for row in out:
        row["cycles"] = row.pop("done") - row.pop("first")
    return out


def physical(masks: np.ndarray, args: argparse.Namespace) -> ModeResult:
    """The physical mode: the masks as one prefill (N tokens, batch 1) of the attention core
    alone, tiled and scheduled by this simulator on the --hw config."""
    from simulator.config import load_hw
    from simulator.schedule.run import run
    from workloads.attention_masks import attention_core_workload

    hw = load_hw(args.hw)
    r = run(attention_core_workload(masks, args.head_dim), hw)
    rows = physical_layers(r)
    cells = [[f"{x['qk_dense']}/{x['qk_sparse']}", str(x["softmax"]), f"{x['pv_dense']}/{x['pv_sparse']}",
              str(x["memory_stall"]), str(x["dram_bytes"]), str(x["cycles"])] for x in rows]
    total = sum(x["cycles"] for x in rows)
    dram = sum(x["dram_bytes"] for x in rows)
    summary = [
        f"Physical numbers (this simulator's tiles and scheduler on '{hw.name}' ({Path(args.hw).name}), "
        f"{hw.clock_mhz:g} MHz; every head's own mask; key columns kept by > {hw.split.density_threshold:g} x N "
        "queries run dense):",
        "  SDDMM/SpMM d/s and softmax: compute cycles summed over heads; stall: memory-stall cycles; DRAM: bytes; "
        "cycles: first tile request to the output written",
        f"  total = sum over layers = {total} cycles; DRAM {dram} bytes",
    ]
    data = {"hardware": hw.model_dump(mode="json"), "hw_path": str(Path(args.hw).resolve()),
            "head_dim": args.head_dim, "layers": rows, "total": total, "dram_bytes": dram}
    columns = ["SDDMM d/s", "softmax", "SpMM d/s", "stall", "DRAM B", "cycles"]
    return ModeResult(columns, cells, summary, data)


MODES: dict[str, Callable[[np.ndarray, argparse.Namespace], ModeResult]] = {
    "vitcod-compatible": vitcod_compatible,
    "physical": physical,
}


def _synthetic(args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    from workloads import attention_masks as am

    if None in (args.layers, args.heads, args.tokens):
        raise InputError("attention --synthetic: give --layers, --heads and --tokens")
    own = GENERATOR_OPTIONS[args.synthetic]
    for name in (n for opts in GENERATOR_OPTIONS.values() for n in opts):
        given = getattr(args, name) is not None
        if given != (name in own):
            flag = "--" + name.replace("_", "-")
            raise InputError(f"attention --synthetic {args.synthetic}: {flag} is "
                             f"{'not used by this generator' if given else 'required'}")
    if args.causal and args.synthetic != "window":
        raise InputError("attention: --causal goes with --synthetic window")
    shape = (args.layers, args.heads, args.tokens)
    if args.synthetic == "polarized":
        masks = am.polarized(*shape, args.global_tokens, args.density, args.seed)
    elif args.synthetic == "window":
        masks = am.sliding_window(*shape, args.window, args.causal)
    else:
        masks = am.topk(*shape, args.k, args.seed)
    spec = {name: getattr(args, name) for name in own}
    seed = {} if args.synthetic == "window" else {"seed": args.seed}
    return masks, {"kind": "synthetic", "generator": args.synthetic, "layers": args.layers, "heads": args.heads,
                   "tokens": args.tokens, **spec, **({"causal": args.causal} if args.synthetic == "window" else seed)}


def _from_file(args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    """The mask file read in its stated convention ("kept" when unstated, then one warning
    line on stderr if it reads as more than half kept), and its workload block."""
    import hashlib
    import sys

    from workloads.attention_masks import dense_kept_fraction, load_mask_file

    given = [f"--{n.replace('_', '-')}" for n in ("layers", "heads", "tokens", "global_tokens", "density",
                                                  "window", "k") if getattr(args, n) is not None]
    if given or args.causal:
        raise InputError(f"attention --mask: {' '.join(given) or '--causal'} only go with --synthetic")
    convention = args.mask_convention or "kept"
    masks = load_mask_file(args.mask, convention)
    dense = None if args.mask_convention else dense_kept_fraction(masks)
    if dense is not None:
        print(f"warning: {args.mask}: {dense:.1%} of its scores are kept, reading 1 as kept (the default); "
              "a ViTCoD file (1 = pruned) needs --mask-convention pruned; --mask-convention kept states this reading",
              file=sys.stderr)
    with open(args.mask, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return masks, {"kind": "mask-file", "path": str(Path(args.mask).resolve()), "sha256": digest,
                   "mask_convention": convention, "shape": list(masks.shape)}


def render(results: dict[str, ModeResult], n_layers: int) -> str:
    """One table: the layer column, then each mode's columns under its name; then each
    mode's summary lines."""
    header = ["layer"] + [c for r in results.values() for c in r.columns]
    rows = [[str(i)] + [x for r in results.values() for x in r.cells[i]] for i in range(n_layers)]
    widths = [max(len(row[j]) for row in [header, *rows]) for j in range(len(header))]
    groups, start = [" " * widths[0]], 1
    for name, r in results.items():
        span = sum(widths[start:start + len(r.columns)]) + 2 * (len(r.columns) - 1)
        groups.append(f"[{name}]".ljust(span))
        start += len(r.columns)
    lines = ["  ".join(groups).rstrip()]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [header, *rows]]
    return "\n".join(lines + [s for r in results.values() for s in r.summary]) + "\n"


def main(args: argparse.Namespace) -> int:
    import json

    from simulator.reports.files import atomic_write, check_output_path

    if args.json:  # before any work: never print a table and then fail on the output path
        check_output_path(args.json)
    if args.mask_convention and not args.mask:
        raise InputError("attention: --mask-convention (or --vitcod-convention) goes with --mask")
    vitcod_params(args)  # conflicting flags fail before the masks are read
    masks, workload = _from_file(args) if args.mask else _synthetic(args)
    results = {name: build(masks, args) for name, build in MODES.items()}
    print(render(results, masks.shape[0]), end="")
    if args.json:
        report = {"workload": workload, "modes": {name: r.data for name, r in results.items()},
                  "provenance": _provenance(args.argv)}
        atomic_write(args.json, json.dumps(report, indent=2) + "\n")
    return 0


def _provenance(argv: list[str]) -> dict:
    import platform
    import shlex
    from importlib import metadata

    import numpy as np

    from simulator import __version__
    from simulator.reports.provenance import git_commit

    try:
        package = metadata.version("sslcsim")
    except metadata.PackageNotFoundError:
        package = None
    return {"simulator_version": __version__, "package_version": package, "git_commit": git_commit(),
            "python": platform.python_version(), "numpy": np.__version__,
            "command": "sslcsim " + " ".join(shlex.quote(a) for a in argv)}
