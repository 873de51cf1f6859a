"""The frontier's results database: SQLite, one row per point (and one for the dense model),
one transaction per row, so a killed run keeps every finished point and resumes after it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from simulator.sweep.store import refuse_foreign
from workloads.errors import InputError

TABLE = "frontier"
COLUMNS = (("key", "TEXT PRIMARY KEY"), ("label", "TEXT"), ("method", "TEXT"), ("allocation", "TEXT"),
           ("ratio", "REAL"), ("status", "TEXT"), ("error", "TEXT"), ("kept_fraction", "REAL"),
           ("perplexity", "REAL"), ("simulations", "TEXT"), ("compress_s", "REAL"), ("eval_s", "REAL"),
           ("provenance", "TEXT"))
NAMES = [c for c, _ in COLUMNS]


class FrontierStore:
    """Rows keyed by the point's key; refuses any other SQLite database."""

    def __init__(self, path: Path) -> None:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise InputError(f"{path}: not a regular file")
        if path.exists() and path.stat().st_size > 0:
            refuse_foreign(path, TABLE, "frontier")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({cols})")

    def done(self) -> set[str]:
        return {r[0] for r in self.conn.execute(f"SELECT key FROM {TABLE}")}

    def insert(self, row: dict[str, Any]) -> None:
        values = [json.dumps(row[c], sort_keys=True) if c in ("simulations", "provenance") and row.get(c) is not None
                  else row.get(c) for c in NAMES]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES ({', '.join('?' * len(NAMES))})", values)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for r in self.conn.execute(f"SELECT {', '.join(NAMES)} FROM {TABLE} ORDER BY method, allocation, ratio DESC"):
            d = dict(zip(NAMES, r))
            for c in ("simulations", "provenance"):
                d[c] = json.loads(d[c]) if d[c] else None
            out.append(d)
        return out

    def close(self) -> None:
        self.conn.close()
