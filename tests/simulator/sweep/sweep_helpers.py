"""Helpers for the sweep tests: a small spec (SmolLM2-135M, few layers, Table 4 array)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HW = REPO / "hwconfigs" / "sslc-table4.yaml"


def write_spec(path: Path, body: str, layers: int = 2, name: str = "t") -> Path:
    """A spec file with the small model header and `body` (YAML: grid/list/random, fixed ...)."""
    path.write_text(f"name: {name}\nhardware: {HW}\nmodel: smollm2-135m\nlayers: {layers}\n" + body)
    return path


SMALL_BODY = """fixed: {phase: decode}
grid:
  ratio: [0.3, 0.4, 0.5, 0.6]
  rank: [8, 16, 32]
  sparser_engine.lines: [32, 64]
  "denser_engine.cols,sparser_engine.macs_per_line": [[64, 64], [32, 32]]
"""  # 48 points


def db_rows(path: Path) -> list[tuple]:
    """Every result column except the volatile ones, sorted by point hash."""
    from simulator.sweep.store import COLUMN_NAMES, VOLATILE

    cols = [c for c in COLUMN_NAMES if c not in VOLATILE]
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM points "
                            "ORDER BY point_hash").fetchall()


