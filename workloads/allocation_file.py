"""Heterogeneous per-projection budgets for shape-only runs: an allocation file.

YAML or JSON, a mapping `projections` of "<layer>.<projection>" (e.g. "0.q_proj"; a
transformers prefix such as "0.self_attn.q_proj" is accepted) to {rank, density}: the rank
of U V and the density of S (its non-zeros over m n). Every projection of every simulated
layer must be listed. An artifact's manifest.json is accepted too: its `allocation`
({"<layer>.<projection>": [kept, rank]}, written by `compress --allocation owl|global`)
gives rank and density = (kept - rank (m + n)) / (m n).
"""

from __future__ import annotations

import json
from pathlib import Path

from workloads.errors import InputError
from workloads.presets import ModelShape

MAX_BYTES = 16 << 20


def _read(path: Path) -> object:
    if not path.is_file():
        raise InputError(f"{path}: allocation file not found (or not a regular file)")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path}: allocation file is over {MAX_BYTES >> 20} MB")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a readable allocation file ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001  (yaml's errors)
        raise InputError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


def _number(where: str, value: object, kind: type, low: float, high: float) -> float:
    types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, types) or not low <= value <= high:
        raise InputError(f"{where}: expected {'an integer' if kind is int else 'a number'} in [{low}, {high}], "
                         f"got {value!r}")
    return value


def read_allocation(path: str | Path, model: ModelShape, layers: int) -> dict[tuple[int, str], tuple[int, float]]:
    """{(layer, projection): (rank, S density)} for the first `layers` layers of `model`."""
    p = Path(path)
    data = _read(p)
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a mapping with 'projections' (or an artifact manifest)")
    shapes = {name: (m, n) for name, _, m, n in model.projections()}
    raw = data.get("allocation") if "allocation" in data else data.get("projections")
    if not isinstance(raw, dict):
        raise InputError(f"{p}: key 'projections': expected a mapping of \"<layer>.<projection>\" to {{rank, density}}")
    out: dict[tuple[int, str], tuple[int, float]] = {}
    for key, val in raw.items():
        where = f"{p}: key '{key}'"
        layer_s, _, name = str(key).partition(".")
        name = name.rsplit(".", 1)[-1]
        if not layer_s.isdigit() or name not in shapes:
            raise InputError(f"{where}: expected \"<layer>.<projection>\" with a projection in {sorted(shapes)}")
        m, n = shapes[name]
        if "allocation" in data:  # a manifest: [kept, rank]
            if not (isinstance(val, list) and len(val) == 2):
                raise InputError(f"{where}: expected [kept, rank]")
            kept = _number(where + " kept", val[0], int, 0, m * n)
            rank = _number(where + " rank", val[1], int, 0, min(m, n))
            density = (kept - rank * (m + n)) / (m * n)
        else:
            if not isinstance(val, dict) or set(val) != {"rank", "density"}:
                raise InputError(f"{where}: expected {{rank, density}}")
            rank = _number(where + ".rank", val["rank"], int, 0, min(m, n))
            density = _number(where + ".density", val["density"], float, 0.0, 1.0)
        if density < 0:
            raise InputError(f"{where}: rank {rank} takes more than the kept entries")
        out[(int(layer_s), name)] = (int(rank), float(density))
    for layer in range(layers):
        for name in shapes:
            if (layer, name) not in out:
                raise InputError(f"{p}: projection '{layer}.{name}' is missing (every simulated projection needs a budget)")
    return out
