"""`sslcsim attention`, run in-process: a synthetic run, a mask-file run in ViTCoD's own
convention (the committed log's totals), the one-line warning when a ViTCoD file is read
without saying its convention, --pe-width as ViTCoD's --PE_width, the physical mode's
columns beside the compatible ones, and bad input as one line with exit code 2."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from simulator.config import load_hw
from simulator.schedule.run import run
from simulator.vitcod.attention import vitcod_attention
from sslcsim.cli import main
from sslcsim.commands import attention as attention_cmd
from sslcsim.commands.attention import DEFAULT_HW, physical_layers
from tests.simulator.test_vitcod_attention import log_masks, vitcod_py_flags
from workloads import attention_masks
from workloads.attention_masks import attention_core_workload, polarized


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_synthetic_run_prints_the_table_and_writes_json(capsys, tmp_path):
    out_json = tmp_path / "r.json"
    code, out, err = run_cli(capsys, "attention", "--synthetic", "polarized", "--layers", "3", "--heads", "3",
                             "--tokens", "120", "--global-tokens", "2", "--density", "0.05", "--seed", "4",
                             "--json", str(out_json))
    assert code == 0 and err == ""
    want = vitcod_attention(polarized(3, 3, 120, 2, 0.05, 4))
    lines = out.splitlines()
    assert "[vitcod-compatible]" in lines[0] and lines[1].split()[:3] == ["layer", "gt", "nnz"]
    assert [int(line.split()[1]) for line in lines[2:5]] == [c.gt for c in want.layers]
    assert any(line.startswith("ViTCoD-compatible numbers") for line in lines)
    assert f"= {want.total} cycles" in out
    report = json.loads(out_json.read_text())
    assert report["modes"]["vitcod-compatible"]["total"] == want.total
    assert report["workload"] == {"kind": "synthetic", "generator": "polarized", "layers": 3, "heads": 3,
                                  "tokens": 120, "global_tokens": 2, "density": 0.05, "seed": 4}
    assert report["provenance"]["command"].startswith("sslcsim attention --synthetic polarized")


def test_mask_file_in_vitcods_convention_gives_the_logs_totals(capsys, tmp_path):
    path = tmp_path / "info_0.95.npy"
    np.save(path, (~log_masks(np.random.default_rng(1))).astype(np.float64))  # ViTCoD: float, 0 = kept
    code, out, err = run_cli(capsys, "attention", "--mask", str(path), "--mask-convention", "pruned",
                             "--json", str(tmp_path / "r.json"))
    assert code == 0 and err == ""
    assert "preload 9492, PRE 4728, SDDMM + SpMM 4709; total = max(preload, PRE + SDDMM + SpMM) = 9492 cycles" in out
    assert run_cli(capsys, "attention", "--mask", str(path), "--vitcod-convention") == (0, out, "")  # the alias
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["workload"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["workload"]["mask_convention"] == "pruned"
    assert [c["gt"] for c in report["modes"]["vitcod-compatible"]["layers"]] == \
        [1, 1, 70, 1, 1, 20, 17, 1, 1, 9, 10, 31]
    assert report["modes"]["vitcod-compatible"]["first_crash_layer"] is None


def test_a_vitcod_file_read_without_its_convention_warns_in_one_line(capsys, tmp_path):
    kept = polarized(2, 3, 64, 1, 0.05, 5)  # ~6% kept: a ViTCoD file of it holds ~94% ones
    path = tmp_path / "info_0.95.npy"
    np.save(path, (~kept).astype(np.float64))
    code, out, err = run_cli(capsys, "attention", "--mask", str(path), "--json", str(tmp_path / "r.json"))
    assert code == 0 and out
    assert err.count("\n") == 1 and err.startswith(f"warning: {path}: ") and "--mask-convention pruned" in err
    assert f"{(~kept).mean():.1%} of its scores are kept" in err
    assert json.loads((tmp_path / "r.json").read_text())["workload"]["mask_convention"] == "kept"
    # stating either convention silences it; "kept" keeps the same (inverted) reading
    assert run_cli(capsys, "attention", "--mask", str(path), "--mask-convention", "kept") == (0, out, "")
    code, right, err = run_cli(capsys, "attention", "--mask", str(path), "--mask-convention", "pruned")
    assert code == 0 and err == "" and right != out
    assert f"= {vitcod_attention(kept).total} cycles" in right
    np.save(path, kept)  # a sparse file in this project's convention: no warning
    assert run_cli(capsys, "attention", "--mask", str(path))[::2] == (0, "")


def test_pe_width_is_vitcods_pe_width_on_feature_dim_32(capsys, tmp_path):
    """ViTCoD.py --feature_dim 32 --PE_width 32 on a ViTCoD-convention file gives the
    restatement's cycles in every layer; --width 32 alone (H_eff left at 64) does not."""
    kept = polarized(2, 3, 197, 2, 0.05, 7)
    path = tmp_path / "reodered_info_0.95.npy"
    np.save(path, (~kept).astype(np.float64))
    code, out, err = run_cli(capsys, "attention", "--mask", str(path), "--vitcod-convention", "--head-dim", "32",
                             "--pe-width", "32", "--json", str(tmp_path / "r.json"))
    assert code == 0 and err == ""
    got = json.loads((tmp_path / "r.json").read_text())["modes"]["vitcod-compatible"]
    want_layers, want = vitcod_py_flags(kept, feature_dim=32, pe_width=32)
    keys = ("gt", "nnz", "dw", "sw", "sddmm_dense", "sddmm_sparse", "spmm_dense", "spmm_sparse", "preload", "pre")
    assert [[c[k] for k in keys] for c in got["layers"]] == [[w[k] for k in keys] for w in want_layers]
    assert (got["preload"], got["pre"], got["compute"], got["total"]) == \
        (want["preload"], want["pre"], want["sddmm"] + want["spmm"], want["total"])
    assert (got["params"]["width"], got["params"]["h_eff"]) == (32, 32)
    assert "W = 32, H_eff = 32, D = 32" in out
    run_cli(capsys, "attention", "--mask", str(path), "--vitcod-convention", "--head-dim", "32", "--width", "32",
            "--json", str(tmp_path / "w.json"))
    alone = json.loads((tmp_path / "w.json").read_text())["modes"]["vitcod-compatible"]
    assert alone["compute"] != want["sddmm"] + want["spmm"]


def test_the_cli_names_the_loaders_conventions():
    assert attention_cmd.CONVENTIONS == attention_masks.CONVENTIONS


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    bad = tmp_path / "half.npy"
    np.save(bad, np.full((1, 2, 8, 8), 0.5))
    cases = [
        (["--mask", str(bad)], "only the values 0 and 1"),
        (["--mask", str(tmp_path)], "not a regular file"),
        (["--mask", str(bad), "--layers", "2"], "only go with --synthetic"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8"], "--k is required"),
        (["--synthetic", "window", "--layers", "1", "--heads", "1", "--tokens", "8", "--window", "3",
          "--vitcod-convention"], "(or --vitcod-convention) goes with --mask"),
        (["--synthetic", "window", "--layers", "1", "--heads", "1", "--tokens", "8", "--window", "3",
          "--mask-convention", "kept"], "--mask-convention (or --vitcod-convention) goes with --mask"),
        (["--mask", str(bad), "--mask-convention", "kept", "--vitcod-convention"], "not allowed with"),
        (["--mask", str(bad), "--mask-convention", "dense"], "invalid choice: 'dense'"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2", "--pe-width", "32",
          "--h-eff", "8"], "--pe-width sets both W and H_eff"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2", "--v-load-factor", "3"],
         "v_load_factor"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2", "--json", str(tmp_path)],
         "not a regular file"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2", "--hw",
          str(tmp_path / "none.yaml")], "none.yaml"),
        ([], "one of the arguments --mask --synthetic is required"),
    ]
    for argv, needle in cases:
        code, out, err = run_cli(capsys, "attention", *argv)
        assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        assert out == ""


def test_physical_mode_prints_the_schedulers_numbers_beside_the_compatible_ones(capsys, tmp_path):
    out_json = tmp_path / "r.json"
    code, out, err = run_cli(capsys, "attention", "--synthetic", "polarized", "--layers", "2", "--heads", "2",
                             "--tokens", "70", "--global-tokens", "3", "--density", "0.1", "--seed", "1",
                             "--head-dim", "32", "--json", str(out_json))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].index("[vitcod-compatible]") < lines[0].index("[physical]")
    assert lines[1].split()[-9:] == ["SDDMM", "d/s", "softmax", "SpMM", "d/s", "stall", "DRAM", "B", "cycles"]
    want = physical_layers(run(attention_core_workload(polarized(2, 2, 70, 3, 0.1, 1), 32), load_hw(DEFAULT_HW)))
    for row, line in zip(want, lines[2:4]):
        cells = line.split()
        assert cells[-6:] == [f"{row['qk_dense']}/{row['qk_sparse']}", str(row["softmax"]),
                              f"{row['pv_dense']}/{row['pv_sparse']}", str(row["memory_stall"]),
                              str(row["dram_bytes"]), str(row["cycles"])]
    total = sum(r["cycles"] for r in want)
    assert f"total = sum over layers = {total} cycles" in out
    report = json.loads(out_json.read_text())["modes"]["physical"]
    assert report["total"] == total and report["layers"] == want and report["hardware"]["name"] == "vitcod"
    assert all(r["qk_sparse"] > 0 and r["qk_dense"] > 0 and r["cycles"] > 0 for r in want)
