"""`sslcsim attention`, run in-process: a synthetic run, a mask-file run in ViTCoD's own
convention (the committed log's totals), the physical mode's columns beside the compatible
ones, and bad input as one line with exit code 2."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from simulator.config import load_hw
from simulator.schedule.run import run
from simulator.vitcod.attention import vitcod_attention
from sslcsim.cli import main
from sslcsim.commands.attention import DEFAULT_HW, physical_layers
from tests.simulator.test_vitcod_attention import log_masks
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
    code, out, err = run_cli(capsys, "attention", "--mask", str(path), "--vitcod-convention",
                             "--json", str(tmp_path / "r.json"))
    assert code == 0 and err == ""
    assert "preload 9492, PRE 4728, SDDMM + SpMM 4709; total = max(preload, PRE + SDDMM + SpMM) = 9492 cycles" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["workload"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c["gt"] for c in report["modes"]["vitcod-compatible"]["layers"]] == \
        [1, 1, 70, 1, 1, 20, 17, 1, 1, 9, 10, 31]
    assert report["modes"]["vitcod-compatible"]["first_crash_layer"] is None


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    bad = tmp_path / "half.npy"
    np.save(bad, np.full((1, 2, 8, 8), 0.5))
    cases = [
        (["--mask", str(bad)], "only the values 0 and 1"),
        (["--mask", str(tmp_path)], "not a regular file"),
        (["--mask", str(bad), "--layers", "2"], "only go with --synthetic"),
        (["--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8"], "--k is required"),
        (["--synthetic", "window", "--layers", "1", "--heads", "1", "--tokens", "8", "--window", "3",
          "--vitcod-convention"], "--vitcod-convention goes with --mask"),
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
