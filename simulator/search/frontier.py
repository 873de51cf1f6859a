"""Budgets with a measured perplexity: the artifacts of a frontier's output directory.

`sslcsim frontier SPEC --out DIR` writes DIR/frontier.db (table `frontier`: one row per
compressed point, with its label, status and perplexity, plus a `dense` row) and each point's
artifact in DIR/artifacts/<label>/. A search naming `search.frontier: DIR` chooses among those
artifacts (an `artifact` axis) and may minimise their perplexity. The table is read here,
read-only, as the data it is: the frontier code itself needs the compressor.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from simulator.sweep.store import refuse_foreign
from workloads import artifact as artifact_format
from workloads.errors import InputError

TABLE = "frontier"
DENSE_KEY = "dense"  # the frontier's row of the uncompressed model: no artifact


@dataclass(frozen=True)
class Measured:
    """One compressed point of a frontier: its artifact and measured perplexity."""

    label: str
    path: Path  # the artifact directory
    perplexity: float


def read_frontier(where: str, root: Path) -> dict[str, Measured]:
    """{label: Measured} of every finished compressed point in frontier directory `root`;
    InputError naming `where` when there is none, or a row's artifact is missing or incomplete."""
    db = root / "frontier.db"
    if not db.is_file():
        raise InputError(f"{where}: {db} not found (a directory written by `sslcsim frontier ... --out DIR`)")
    refuse_foreign(db, TABLE, "frontier", ["key", "label", "status", "perplexity"])
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute(f"SELECT label, perplexity FROM {TABLE} WHERE status = 'ok' AND key != ? "
                            "ORDER BY label", (DENSE_KEY,)).fetchall()
    finally:
        conn.close()
    if not rows:
        raise InputError(f"{where}: {db} holds no finished compressed point; finish the frontier run first")
    out = {}
    for label, ppl in rows:
        path = (root / "artifacts" / label).resolve()
        if not artifact_format.load_manifest(path)["complete"]:
            raise InputError(f"{where}: artifact {path} is incomplete; finish the frontier run first")
        out[label] = Measured(label, path, float(ppl))
    return out
