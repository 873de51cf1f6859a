"""Every physical quantity of a hardware config has an upper bound, and docs/hardware-config.md
states each key's range exactly as the schema enforces it (issue 23), the `technology` and
`energy` sections (issue 20) included."""

from __future__ import annotations

import math
import typing
from pathlib import Path

from pydantic import BaseModel

from simulator.config import HardwareConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "hardware-config.md").read_text()
SKIPPED: tuple[str, ...] = ()


def numeric_fields(model: type[BaseModel] = HardwareConfig, prefix: str = "") -> dict[str, dict[str, float]]:
    """{dotted key: {'ge'|'gt'|'le'|'lt': bound}} for every int or float leaf."""
    out = {}
    for name, f in model.model_fields.items():
        if name in SKIPPED:
            continue
        args = (f.annotation, *typing.get_args(f.annotation))
        sub = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if sub:
            out.update(numeric_fields(sub[0], f"{prefix}{name}."))
        elif any(a in (int, float) for a in args):
            out[prefix + name] = {k: getattr(m, k) for m in f.metadata for k in ("ge", "gt", "le", "lt")
                                  if hasattr(m, k)}
    return out


def shown(value: float) -> set[str]:
    """How the doc may write a bound: plainly, or as 2^k / 10^k."""
    forms = {str(int(value)) if value == int(value) else repr(value)}
    for base in (2, 10):
        k = round(math.log(value, base)) if value > 0 else 0
        if k >= 3 and base ** k == value:
            forms.add(f"{base}^{k}")
    return forms


def doc_range(key: str) -> str:
    row = next(line for line in DOC.splitlines() if line.startswith(f"| `{key}` |"))
    return row.split("|")[2]


def test_every_number_has_an_upper_bound():
    missing = [k for k, b in numeric_fields().items() if not {"le", "lt"} & b.keys()]
    assert not missing, missing


def test_the_docs_state_every_range_as_enforced():
    for key, b in numeric_fields().items():
        cell = doc_range(key)
        low = [f"{lo}.." for lo in shown(b["ge"])] if "ge" in b else [f"> {lo}, <= " for lo in shown(b["gt"])]
        assert any(f"{lo}{hi}" in cell for lo in low for hi in shown(b["le"])), (key, b, cell)
