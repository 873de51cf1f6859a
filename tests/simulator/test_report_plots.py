"""The default job's figures (simulator/plots/report_plots.py): no legend covers a bar.

Checked on the drawn figure: each legend's window extent against the visible part (clipped
to its axes) of every bar patch, on two sets of reports: one where every bar reaches the top
of its axes (a legend inside any axes would have to cover one), and a shape-only run of the
default job's model and phases (where the legend used to cover the prefill MHA bars)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.transforms import Bbox

from simulator.api import simulate_shape
from simulator.config import load_hw
from simulator.plots import report_plots
from workloads.budget import Budget
from workloads.presets import PRESETS

HW = Path(__file__).resolve().parents[2] / "hwconfigs" / "vitcod.yaml"
FIGURES = (report_plots.cycle_breakdown_figure, report_plots.utilization_figure, report_plots.dram_traffic_figure)


def flat_reports() -> dict[str, dict]:
    """Every bar of every figure at one height: the tallest bar is everywhere."""
    module = {"per_layer": dict.fromkeys(("dense_cycles", "sparse_cycles", "lowrank_cycles", "total_cycles"), 1e6),
              "utilization": {"denser": 1.0, "sparser": 1.0}, "dram_bytes": 5e6, "dense_dram_bytes": 5e6}
    return {phase: {"tokens": tokens, "modules": {m: module for m in report_plots.MODULES}}
            for phase, tokens in (("decode", 1), ("prefill", 2048))}


def shape_only_reports() -> dict[str, dict]:
    """The default job's model, hardware and phases (decode, prefill 2048), shape-only, 2 layers."""
    hw = load_hw(HW)
    return {phase: simulate_shape(PRESETS["smollm2-135m"], hw, Budget(0.5, 16), phase, 1, seq, 0, 2)
            for phase, seq in (("decode", 1), ("prefill", 2048))}


def covered_bars(fig: plt.Figure) -> list[tuple[int, int]]:
    """(axes index, bar index) of every bar whose visible part meets a legend's extent."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend().get_window_extent(renderer) for ax in fig.axes if ax.get_legend()]
    assert legends, "the figure has no legend"
    hits = []
    for a, ax in enumerate(fig.axes):
        frame = ax.get_window_extent(renderer)
        for b, bar in enumerate(ax.patches):
            visible = Bbox.intersection(bar.get_window_extent(renderer), frame)
            if visible is not None and any(Bbox.intersection(visible, leg) is not None for leg in legends):
                hits.append((a, b))
    return hits


@pytest.mark.parametrize("make", [flat_reports, shape_only_reports], ids=["every-bar-full-height", "shape-only"])
@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.__name__)
def test_no_legend_covers_a_bar(make, figure):
    fig = figure(make())
    try:
        assert sum(len(ax.patches) for ax in fig.axes) >= 8  # the bars are there to be covered
        assert covered_bars(fig) == []
    finally:
        plt.close(fig)


def test_energy_breakdown_stacks_every_component_per_token_and_no_legend_covers_a_bar():
    reports = shape_only_reports()  # vitcod.yaml names a technology: the reports carry energy
    fig = report_plots.energy_breakdown_figure(reports)
    try:
        ax = fig.axes[0]
        comps = reports["decode"]["energy"]["components"]
        assert len(ax.patches) == len(comps) * 4  # every component for dense and SSLC in both phases
        tops = {}
        for bar in ax.patches:
            x = round(bar.get_x(), 6)
            tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
        want = [reports[p]["energy"][w]["pj_per_token"] / 1e6 for p in ("decode", "prefill")
                for w in ("dense", "compressed")]
        assert sorted(tops.values()) == pytest.approx(sorted(want))
        assert covered_bars(fig) == []
    finally:
        plt.close(fig)
