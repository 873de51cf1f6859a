"""`sslcsim simulate --scalesim-config X.cfg --topology T.csv`: SCALE-Sim's own files in, the
cycles of its COMPUTE_REPORT out, equal to real SCALE-Sim 3.0.0 runs of the same files
(benchmarks/results/scalesim_example_reference.csv, made by
benchmarks/scalesim_reference/run_example.py in a separate venv); bad files exit 2 in one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sslcsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scalesim"
REFERENCE = ROOT / "benchmarks" / "results" / "scalesim_example_reference.csv"
COLUMNS = ("Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles")


def reference(config: str) -> list[dict]:
    lines = [line for line in REFERENCE.read_text().splitlines() if not line.startswith("#")]
    return [r for r in csv.DictReader(lines) if r["config"] == config]


@pytest.mark.parametrize("config", ["scale.cfg", "scale_user_bw.cfg"])
def test_compute_report_equals_scalesim_on_its_example_files(capsys, tmp_path, config):
    out_csv = tmp_path / "report.csv"
    code = main(["simulate", "--scalesim-config", str(EXAMPLES / config), "--topology",
                 str(EXAMPLES / "tiny_llm_block.csv"), "--csv", str(out_csv)])
    assert code == 0
    printed = capsys.readouterr().out
    ours = list(csv.DictReader(printed.splitlines()))
    ref = reference(config)
    assert len(ours) == len(ref) == 6
    for o, r in zip(ours, ref):
        assert [int(o[c]) for c in COLUMNS] == [int(r[c]) for c in COLUMNS], r["layer"]
        assert float(o["Overall Util %"]) == pytest.approx(float(r["Overall Util %"]), rel=1e-9)
        assert float(o["Mapping Efficiency %"]) == pytest.approx(float(r["Mapping Efficiency %"]), rel=1e-9)
        assert int(o["sslcsim physical cycles"]) > 0
    assert out_csv.read_text() == printed


def _cfg(tmp_path: Path, edit) -> str:
    p = tmp_path / "bad.cfg"
    p.write_text(edit((EXAMPLES / "scale.cfg").read_text()))
    return str(p)


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace("[layout]", "[layuot]"), "layout"),
    (lambda t: t.replace("Dataflow : os", "Dataflow : xs"), "Dataflow"),
    (lambda t: t.replace("ArrayHeight:    32", "ArrayHeight:    32,"), "ArrayHeight"),
    (lambda t: t.replace("IfmapSRAMBankBandwidth: 100", "IfmapSRAMBankBandwidth: 1e2"), "IfmapSRAMBankBandwidth"),
    (lambda t: t.replace("[general]\nrun_name = scale_example_run_32x32_ws\n", ""), "general"),
])
def test_malformed_config_is_one_line_and_exit_2(capsys, tmp_path, edit, needle):
    code = main(["simulate", "--scalesim-config", _cfg(tmp_path, edit), "--topology",
                 str(EXAMPLES / "tiny_llm_block.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_topology_errors_and_missing_pair(capsys, tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer,M,N,K,\nqkv,128,,512,\n")
    code = main(["simulate", "--scalesim-config", str(EXAMPLES / "scale.cfg"), "--topology", str(topo)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "line 2" in err
    assert main(["simulate", "--scalesim-config", str(EXAMPLES / "scale.cfg")]) == 2
    assert "go together" in capsys.readouterr().err
