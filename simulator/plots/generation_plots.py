"""The figure of one generation: per-token latency over the decode steps, the share of the
generation's time each op class is active and, where the config has a technology, the energy
of each decode step, dense against compressed."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from simulator.plots.style import COLORS, save, styled

CLASS_LABELS = {"projections": "projections", "attention_core": "attention core (QK$^T$, PV)",
                "vector": "vector unit", "writeback": "write-backs"}


def generation_figure(res: dict, out: str | Path) -> list[Path]:
    """generation.{pdf,svg,png} in `out`; the result's provenance in the files' metadata."""
    energy = "energy" in res["compressed"]
    with styled():
        fig, axes = plt.subplots(1, 3 if energy else 2, figsize=(12.0 if energy else 8.0, 3.2),
                                 gridspec_kw={"width_ratios": [1.6, 1, 1.4] if energy else [1.6, 1]})
        ax, bx = axes[0], axes[1]
        steps = np.arange(1, res["new_tokens"] + 1)
        for name, color in (("dense", "#999999"), ("compressed", COLORS["model"])):
            r = res[name]
            hz = r["prefill_cycles"] / r["time_to_first_token_s"]
            ax.plot(steps, np.asarray(r["step_cycles"]) / hz * 1e3, color=color,
                    label=f"{name}: TTFT {r['time_to_first_token_s'] * 1e3:,.1f} ms, {r['tokens_per_s']:,.1f} tok/s")
        ax.set_xlabel("generated token (decode step)")
        ax.set_ylabel("per-token latency (ms)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{res['model']} on {res['hardware']}, prompt {res['prompt']}, batch {res['batch']}")
        ax.legend(loc="lower right")
        x = np.arange(len(CLASS_LABELS))
        for i, (name, color) in enumerate((("dense", "#999999"), ("compressed", COLORS["model"]))):
            shares = [res[name]["active_share"][k] * 100 for k in CLASS_LABELS]
            bx.bar(x + (i - 0.5) * 0.4, shares, 0.4, color=color, label=name)
        bx.set_xticks(x, [CLASS_LABELS[k] for k in CLASS_LABELS], rotation=20, ha="right")
        bx.set_ylabel("active share of generation time (%)")
        bx.set_title("op classes (overlapping)")
        bx.legend()
        if energy:
            _energy_panel(axes[2], res, steps)
        prov = json.dumps(res.get("provenance"), sort_keys=True) if "provenance" in res else None
        return save(fig, out, "generation", description=prov)


def _energy_panel(ax, res: dict, steps: np.ndarray) -> None:
    """Energy of each decode step (uJ), dense and compressed, with the generation's pJ/token."""
    for name, color in (("dense", "#999999"), ("compressed", COLORS["model"])):
        e = res[name]["energy"]
        ax.plot(steps, np.asarray(e["step_pj"]) * 1e-6, color=color,
                label=f"{name}: {e['pj_per_token'] * 1e-6:,.1f} uJ/token, {e['average_power_w']:,.2f} W")
    ax.set_xlabel("generated token (decode step)")
    ax.set_ylabel("energy per decode step (uJ)")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"energy gain {res['energy_gain']['total']:.2f}x (dense / compressed)")
    ax.legend(loc="lower right")
