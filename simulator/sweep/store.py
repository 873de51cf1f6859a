"""The results database: SQLite, one row per point, keyed by the point's hash.

Durability: WAL journal with synchronous=FULL and one transaction per point, inserted
with INSERT OR IGNORE. A process killed at any moment (SIGKILL included) leaves every
committed point and no partial row; a point seen twice is stored once.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import simulator
from simulator.reports.files import atomic_path, atomic_write
from simulator.reports.provenance import canonical_sha256
from simulator.sweep.spec import Point, Sweep
from workloads.errors import InputError

# (column, SQL type, description with unit). The order is the CSV column order.
COLUMNS: list[tuple[str, str, str]] = [
    ("point_hash", "TEXT PRIMARY KEY", "sha256 of resolved hardware + model + workload + simulator version"),
    ("sweep", "TEXT", "spec name of the run that produced the row"),
    ("point_index", "INTEGER", "index of the point in its spec"),
    ("params", "TEXT", "swept axis values, JSON"),
    ("hardware", "TEXT", "resolved hardware config, JSON"),
    ("workload", "TEXT", "model shape, layers and workload values, JSON"),
    ("version", "TEXT", "simulator (cycle model) version"),
    ("hardware_sha256", "TEXT", "sha256 of the resolved hardware config (canonical JSON)"),
    ("provenance", "TEXT", "package version, git commit, Python/numpy/numba, CPU and the command line, JSON"),
    ("status", "TEXT", "ok, or error (bad input found while simulating)"),
    ("error", "TEXT", "error message when status = error"),
    ("model", "TEXT", "model name"),
    ("layers", "INTEGER", "decoder layers simulated"),
    ("ratio", "REAL", "kept fraction"),
    ("rank", "INTEGER", "rank r"),
    ("pattern", "TEXT", "sparsity pattern"),
    ("phase", "TEXT", "decode or prefill"),
    ("batch", "INTEGER", "sequences"),
    ("seq", "INTEGER", "tokens per sequence"),
    ("macs", "INTEGER", "MAC units (area proxy)"),
    ("buffer_kib", "REAL", "on-chip buffer KiB (area proxy)"),
    ("area_proxy", "REAL", "macs + buffer_kib"),
    ("dense_cycles", "INTEGER", "dense baseline cycles, whole model"),
    ("total_cycles", "INTEGER", "compressed cycles, whole model"),
    ("speedup", "REAL", "dense_cycles / total_cycles"),
    ("seconds", "REAL", "compressed time, s"),
    ("dense_seconds", "REAL", "dense time, s"),
    ("dram_bytes", "INTEGER", "compressed DRAM traffic, bytes"),
    ("dram_bandwidth_utilization", "REAL", "fraction of the DRAM channel busy"),
    ("bound", "TEXT", "compute-bound or memory-bound"),
    ("peak_buffer_bytes", "INTEGER", "peak weight+index bytes on chip"),
    ("energy_uj", "REAL", "compressed energy, uJ (configs with a technology)"),
    ("dense_energy_uj", "REAL", "dense energy, uJ (configs with a technology)"),
    ("pj_per_token", "REAL", "compressed energy per token, pJ (configs with a technology; else null)"),
    ("dense_pj_per_token", "REAL", "dense energy per token, pJ (configs with a technology)"),
    ("energy_gain", "REAL", "dense energy / compressed energy (configs with a technology)"),
    ("area_mm2", "REAL", "chip area: MACs, vector unit, decoders and buffers, mm^2 (configs with a technology)"),
    ("edp", "REAL", "energy-delay product per token: pJ/token x s/token, pJ*s (configs with a technology)"),
    ("tokens_per_joule", "REAL", "compressed tokens per joule (configs with a technology)"),
    ("effective_tops_per_w", "REAL", "2 x useful MACs per joule / 1e12, TOPS/W (configs with a technology)"),
    ("tokens_per_s_per_mm2", "REAL", "compressed tokens per second per mm^2 (configs with a technology)"),
    ("util_denser", "REAL", "denser engine utilization over the run"),
    ("util_sparser", "REAL", "sparser engine utilization over the run"),
] + [
    (f"{m}_{k}", t, f"{m.upper()} {d}")
    for m in ("mha", "ffn")
    for k, t, d in (
        ("dense_cycles", "INTEGER", "dense cycles (sum of per-layer spans)"),
        ("sparse_cycles", "INTEGER", "sparse-part compute cycles"),
        ("lowrank_cycles", "INTEGER", "low-rank compute cycles"),
        ("total_cycles", "INTEGER", "compressed cycles (sum of per-layer spans)"),
        ("speedup", "REAL", "module speedup"),
        ("util_denser", "REAL", "denser engine utilization while busy"),
        ("util_sparser", "REAL", "sparser engine utilization while busy"),
        ("dram_bytes", "INTEGER", "DRAM bytes"),
        ("memory_stall_cycles", "INTEGER", "memory stall cycles"),
    )
] + [
    ("elapsed_s", "REAL", "wall time to simulate the point, s (not a result: differs run to run)"),
]
COLUMN_NAMES = [c for c, _, _ in COLUMNS]
# Columns that describe how a run went rather than what it computed.
VOLATILE = ("elapsed_s", "sweep", "point_index", "provenance")


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that creates nothing: immutable (no -wal or -shm file is made
    for a WAL-mode file) unless a writer left a -wal file whose commits must be read too."""
    wal = path.with_name(path.name + "-wal").exists()
    return sqlite3.connect(path.resolve().as_uri() + ("?mode=ro" if wal else "?mode=ro&immutable=1"), uri=True)


def refuse_foreign(path: Path, table: str = "points", what: str = "sweep", columns: list[str] | None = None) -> None:
    """InputError unless the existing file is an SQLite database holding only `table` (the
    sweep's or the frontier's own) with every one of `columns`, checked read-only so that a
    refused file is left byte for byte as it was (no journal-mode switch, no new table)."""
    try:
        conn = _read_only(path)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a {what} results database ({exc})") from None
    if tables != {table}:
        raise InputError(f"{path}: an SQLite database with other tables ({', '.join(sorted(tables)) or 'none'}); "
                         f"refusing to add {what} results to it: write to a new --out")
    missing = [c for c in columns or () if c not in have]
    if missing:
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        raise InputError(f"{path}: {what} results table has an older layout (missing {', '.join(missing[:4])}{more}): "
                         f"written by an older sslcsim; run the {what} again into a new --out")


def _existing(path: Path) -> bool:
    """Whether `path` holds a database to resume (InputError when it is not a regular file)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InputError(f"{path}: not a regular file")
    return path.exists() and path.stat().st_size > 0


def stored_keys(path: str | Path) -> set[str]:
    """The point hashes already in a results database, read without changing it (empty when
    there is none yet); InputError for a file a sweep would refuse to write to."""
    p = Path(path)
    if not _existing(p):
        return set()
    refuse_foreign(p, columns=COLUMN_NAMES)
    conn = _read_only(p)
    try:
        return {r[0] for r in conn.execute("SELECT point_hash FROM points")}
    finally:
        conn.close()


class Store:
    """A results database; one writer (the sweep's driver process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if _existing(self.path):
            refuse_foreign(self.path, columns=COLUMN_NAMES)  # read-only look first: a refused file stays as it was
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            cols = ", ".join(f'"{c}" {t}' for c, t, _ in COLUMNS)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS points ({cols})")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a sweep results database ({exc})") from None

    def close(self) -> None:
        self.conn.close()

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT point_hash FROM points")}

    def insert(self, sweep: Sweep, point: Point, row: dict[str, Any], environment: dict | None = None) -> None:
        """Write one finished point in its own transaction (ignored if already present);
        `environment`: the versions, machine and command line (provenance.environment)."""
        full = dict(row)
        w = point.workload
        full.update(
            sweep=sweep.name, point_index=point.index, params=json.dumps(point.params),  # spec axis order
            hardware=json.dumps(point.hardware, sort_keys=True), hardware_sha256=canonical_sha256(point.hardware),
            provenance=json.dumps(environment, sort_keys=True) if environment is not None else None,
            workload=json.dumps({"model": point.model, "layers": point.layers, "artifact": point.artifact, **w},
                                sort_keys=True),
            version=simulator.__version__, model=point.model["name"],
            layers=point.layers or point.model["num_layers"], ratio=w.get("ratio"), rank=w.get("rank"),
            pattern=w.get("pattern"), phase=w["phase"], batch=w["batch"], seq=w["seq"],
        )
        values = [full.get(c) for c in COLUMN_NAMES]
        marks = ", ".join("?" * len(COLUMN_NAMES))
        with self.conn:  # BEGIN ... COMMIT: the row lands whole or not at all
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(f"INSERT OR IGNORE INTO points VALUES ({marks})", values)

    def rows(self, status: str | None = "ok") -> list[dict[str, Any]]:
        """All rows (ordered by sweep and point index), params decoded into a dict."""
        sql = "SELECT * FROM points" + (" WHERE status = ?" if status else "") + " ORDER BY sweep, point_index"
        cur = self.conn.execute(sql, (status,) if status else ())
        names = [d[0] for d in cur.description]
        out = []
        for r in cur:
            d = dict(zip(names, r))
            d["params"] = json.loads(d["params"])
            out.append(d)
        return out


def flat_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows with one `axis:<key>` column per swept key, for export and tables."""
    rows = list(rows)
    axes: list[str] = []
    for r in rows:
        for k in r["params"]:
            if k not in axes:
                axes.append(k)
    header = [c for c in COLUMN_NAMES if c != "params"] + [f"axis:{a}" for a in axes]
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k != "params"}
        d.update({f"axis:{a}": r["params"].get(a) for a in axes})
        flat.append(d)
    return header, flat


def export_csv(store: Store, path: str | Path) -> int:
    """Write every row (errors included) as CSV, atomically; returns the row count."""
    header, flat = flat_rows(store.rows(status=None))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore")
    w.writeheader()
    w.writerows(flat)
    atomic_write(path, buf.getvalue())
    return len(flat)


def export_parquet(store: Store, path: str | Path) -> int:
    """Write every row as Parquet (needs pyarrow), atomically; returns the row count."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: Parquet export needs pyarrow (pip install pyarrow); use --csv") from None
    header, flat = flat_rows(store.rows(status=None))
    table = pa.Table.from_pylist(flat, schema=None) if flat else pa.table({h: [] for h in header})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(flat)
