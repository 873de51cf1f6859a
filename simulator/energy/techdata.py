"""The technology tables (data/arithmetic.yaml, logic.yaml, dram.yaml), loaded once and checked.

Every numeric entry carries value, unit, node_nm, vdd_v and a non-empty source; a derived entry
also carries its rule (`derived`) and the entries it comes from (`from`: one name, with the
`factor` between them, or a list of names that the rule text combines).
A malformed table is refused with a one-line InputError naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from workloads.errors import InputError

DATA_DIR = Path(__file__).parent / "data"
TABLE_FILES = ("arithmetic.yaml", "logic.yaml")
ENTRY_KEYS = ("value", "unit", "node_nm", "vdd_v", "source", "derived", "from", "factor", "note")


@dataclass(frozen=True)
class Entry:
    """One sourced number: `value` in `unit`, at `node_nm` and `vdd_v` (None where the source
    gives none or the number does not depend on the node). `derived`: the rule text, with
    `derived_from` (entry names) and, for one input, `factor` (value = input * factor); None
    for measurements."""

    name: str
    value: float
    unit: str
    node_nm: float | None
    vdd_v: float | None
    source: str
    derived: str | None = None
    derived_from: tuple[str, ...] = ()
    factor: float | None = None
    note: str | None = None


def _entry(path: Path, name: str, raw: dict) -> Entry:
    """Check one raw YAML entry and build it (InputError naming file and key if malformed)."""
    for key in ("value", "unit", "node_nm", "vdd_v", "source"):
        if key not in raw:
            raise InputError(f"{path}: entry {name} lacks '{key}'")
    unknown = set(raw) - set(ENTRY_KEYS)
    if unknown:
        raise InputError(f"{path}: entry {name} has unknown keys {sorted(map(str, unknown))}; "
                         f"allowed: {', '.join(ENTRY_KEYS)}")
    if not str(raw["source"]).strip():
        raise InputError(f"{path}: entry {name} has an empty source")
    derived = raw.get("derived")
    sources_of = raw.get("from")
    sources_of = () if sources_of is None else (sources_of,) if isinstance(sources_of, str) else tuple(sources_of)
    if derived is not None and not sources_of:
        raise InputError(f"{path}: derived entry {name} needs 'from'")
    if derived is not None and len(sources_of) == 1 and raw.get("factor") is None:
        raise InputError(f"{path}: derived entry {name} from one entry needs 'factor'")
    node = raw["node_nm"]
    vdd = raw["vdd_v"]
    return Entry(name=name, value=float(raw["value"]), unit=str(raw["unit"]),
                 node_nm=None if node is None else float(node), vdd_v=None if vdd is None else float(vdd),
                 source=" ".join(str(raw["source"]).split()),
                 derived=None if derived is None else " ".join(str(derived).split()),
                 derived_from=sources_of, factor=None if raw.get("factor") is None else float(raw["factor"]),
                 note=None if raw.get("note") is None else " ".join(str(raw["note"]).split()))


@lru_cache(maxsize=None)
def raw_table(file_name: str) -> dict:
    """The parsed YAML of data/`file_name`."""
    return yaml.safe_load((DATA_DIR / file_name).read_text())


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """All entries of arithmetic.yaml and logic.yaml by name (e.g. 'multiply.int8.energy')."""
    out: dict[str, Entry] = {}
    for file_name in TABLE_FILES:
        path = DATA_DIR / file_name
        for name, raw in raw_table(file_name)["entries"].items():
            if name in out:
                raise InputError(f"{path}: entry {name} is defined twice")
            out[name] = _entry(path, name, raw)
    for e in out.values():
        for name in e.derived_from:
            if name not in out:
                raise InputError(f"entry {e.name} is derived from unknown entry {name}")
    return out


def entry(name: str) -> Entry:
    """The entry `name`; a missing one is a bug in the shipped tables, not bad user input."""
    return entries()[name]
