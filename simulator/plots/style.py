"""One look for every figure: fonts, colours, grid, axis labels with units, atomic saving."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from simulator.reports.files import atomic_path  # noqa: E402

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "pdf.fonttype": 42,  # embedded TrueType: editable text in the PDF
    "svg.fonttype": "none",
}
# Colour-blind-safe (Okabe-Ito), one per series kind, the same in every figure.
COLORS = {"model": "#000000", "MHA": "#0072B2", "FFN": "#D55E00", "denser": "#009E73", "sparser": "#CC79A7",
          "front": "#D55E00", "points": "#999999"}
CMAP = "viridis"
FORMATS = ("pdf", "svg", "png")
PNG_DPI = 200

# Axis labels with units for the keys a sweep varies or reports.
LABELS = {
    "ratio": "kept ratio p (fraction of dense parameters)",
    "rank": "rank r",
    "preserve": "preserved fraction",
    "pattern": "sparsity pattern",
    "phase": "phase",
    "batch": "batch (sequences)",
    "seq": "sequence length (tokens)",
    "seed": "mask seed",
    "speedup": "speedup (dense cycles / SSLC cycles, x)",
    "mha_speedup": "MHA speedup (x)",
    "ffn_speedup": "FFN speedup (x)",
    "area_proxy": "area proxy (MAC units + buffer KiB)",
    "macs": "MAC units",
    "buffer_kib": "on-chip buffers (KiB)",
    "energy_uj": "energy per step (uJ)",
    "dense_energy_uj": "dense energy per step (uJ)",
    "pj_per_token": "energy per token (pJ)",
    "dense_pj_per_token": "dense energy per token (pJ)",
    "energy_gain": "energy gain (dense energy / SSLC energy, x)",
    "area_mm2": "chip area (mm²)",
    "edp": "energy-delay product per token (pJ/token x s/token, pJ·s)",
    "tokens_per_joule": "tokens per joule",
    "effective_tops_per_w": "effective TOPS/W (2 x useful MACs / J / 1e12)",
    "tokens_per_s_per_mm2": "tokens/s per mm²",
    "seconds": "time per step (s)",
    "total_cycles": "cycles per step",
    "dram_bandwidth_utilization": "DRAM bandwidth utilization (fraction)",
    "clock_mhz": "clock (MHz)",
    "denser_engine.rows": "denser engine rows (PEs, or MACs per line)",
    "denser_engine.cols": "denser engine columns (PEs, or lines)",
    "sparser_engine.lines": "sparser engine lines L",
    "sparser_engine.macs_per_line": "sparser engine MACs per line P",
    "split.density_threshold": "dense-column threshold (density)",
}
_UNITS = {"_kib": "KiB", "_gbps": "GB/s", "_mhz": "MHz", "_ns": "ns", "_bits": "bits", "_pj": "pJ",
          "_pj_per_byte": "pJ/byte", "latency": "cycles", "overhead": "cycles"}


def label(key: str) -> str:
    """Human label with unit for a metric or (dotted) axis key."""
    if key in LABELS:
        return LABELS[key]
    leaf = key.rsplit(".", 1)[-1]
    for suffix, unit in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if leaf.endswith(suffix):
            base = leaf[: -len(suffix)] if suffix.startswith("_") else leaf
            return f"{key.rsplit('.', 1)[0] + ' ' if '.' in key else ''}{base.replace('_', ' ')} ({unit})"
    return key.replace("_", " ")


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """Apply the project style to the figures made inside."""
    with plt.rc_context(RC):
        yield


# where each format keeps a free-text description (the figure's provenance)
_DESCRIPTION_KEY = {"png": "Description", "svg": "Description", "pdf": "Subject"}


def save(fig: "plt.Figure", out_dir: str | Path, stem: str, formats: tuple[str, ...] = FORMATS,
         description: str | None = None) -> list[Path]:
    """Write `fig` as out_dir/stem.<fmt> for each format, each atomically; closes the figure.
    `description` (e.g. the reports' provenance as JSON) goes into each file's metadata."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for fmt in formats:
            path = out / f"{stem}.{fmt}"
            with atomic_path(path) as tmp, styled():  # savefig reads the rc (bbox, fonttype) at save time
                meta = {_DESCRIPTION_KEY[fmt]: description} if description and fmt in _DESCRIPTION_KEY else None
                fig.savefig(tmp, format=fmt, dpi=PNG_DPI if fmt == "png" else None, metadata=meta)
            written.append(path)
    finally:
        plt.close(fig)
    return written
