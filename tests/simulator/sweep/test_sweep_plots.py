"""`sslcsim plot`: every figure in every format, the tables, slices and bad arguments."""

from __future__ import annotations

import pytest

from simulator.plots.sweep_plots import pareto_front
from sslcsim.cli import main


def test_pareto_front():
    pts = [(10, 1.0), (5, 1.5), (5, 1.2), (20, 2.0), (15, 1.9), (25, 1.9), (1, 0.5)]
    assert pareto_front(pts) == [6, 1, 4, 3]


def test_plot_all_outputs(reference_db, small_spec, tmp_path, capsys):
    out = tmp_path / "plots"
    rc = main(["plot", str(reference_db), "--out", str(out), "--spec", str(small_spec),
               "--heatmap", "ratio,rank", "--heatmap", "denser_engine.cols,sparser_engine.lines"])
    assert rc == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    stems = ["heatmap_rank_vs_ratio", "heatmap_sparser_engine_lines_vs_denser_engine_cols_sparser_engine_macs_per_line",
             "vs_ratio", "vs_rank", "vs_sparser_engine_lines", "vs_denser_engine_cols_sparser_engine_macs_per_line",
             "pareto_area_proxy"]
    for stem in stems:
        for fmt in ("pdf", "svg", "png"):
            assert f"{stem}.{fmt}" in names and (out / f"{stem}.{fmt}").stat().st_size > 1000
    md = (out / "table.md").read_text().splitlines()
    assert md[0].startswith("| ratio | rank | sparser lines | denser cols | sparser macs per line | speedup")
    assert len([line for line in md if line.startswith("| ")]) == 1 + 20  # header + --top 20
    assert "\\toprule" in (out / "table.tex").read_text()
    assert not [n for n in names if n.endswith(".tmp")]


def test_plot_slice(reference_db, tmp_path):
    out = tmp_path / "slice"
    assert main(["plot", str(reference_db), "--out", str(out), "--where", "ratio=0.5",
                 "--where", "sparser_engine.lines=64", "--formats", "png"]) == 0
    rows = [line for line in (out / "table.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 6  # 3 ranks x 2 zipped splits
    assert not (out / "vs_ratio.png").exists()  # ratio no longer varies


@pytest.mark.parametrize("args, message", [
    (["--heatmap", "ratio,nope"], "axis 'nope': not a varying axis"),
    (["--where", "ratio=0.99"], "no result matches"),
    (["--where", "colour=red"], "--where colour: not an axis"),
    (["--formats", "gif"], "--formats gif"),
    (["--cost", "energy_uj"], "--cost energy_uj: no result has it"),
])
def test_plot_bad_arguments(reference_db, tmp_path, capsys, args, message):
    assert main(["plot", str(reference_db), "--out", str(tmp_path / "p"), "--formats", "png", *args]
                if "--formats" not in args else ["plot", str(reference_db), "--out", str(tmp_path / "p"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
