"""Provenance: what a report needs so that a number in a paper can be traced and re-run.

Every JSON report of `sslcsim simulate` carries the resolved hardware config (and its
sha256), the workload spec (model shape, budget, generator, seed, or the artifact's manifest
sha256), simulator.__version__, the package version, the git commit when run from a
checkout, library versions, and the command line. `sslcsim reproduce --from REPORT` re-runs
it and compares every number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import shlex
import subprocess
from importlib import metadata
from pathlib import Path

from simulator import __version__
from simulator.config import HardwareConfig
from workloads.errors import InputError

# the parts of a report that are numbers of the simulation (everything else is labels)
NUMBERS = ("totals", "engines", "modules", "layers", "projections", "classes")


def canonical_sha256(obj: object) -> str:
    """sha256 of the canonical JSON of obj (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def git_commit() -> str | None:
    """The commit of the checkout this code runs from, or None (an installed package)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_model() -> str:
    """The CPU's model name (compressed artifacts can depend on it through the BLAS kernels)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def shape_workload(model: object, budget: object, phase: str, batch: int, seq: int, seed: int,
                   layers: int | None, scope: str = "projections", context: int = 0,
                   allocation: dict | None = None) -> dict:
    """The workload spec of a shape-only run (synthetic seeded masks; per-projection budgets
    as {"<layer>.<projection>": [rank, density]} when an allocation file was given)."""
    spec = {"kind": "shape", "model": dataclasses.asdict(model), "budget": dataclasses.asdict(budget),
            "phase": phase, "batch": batch, "seq": seq, "seed": seed, "layers": layers, "scope": scope,
            "context": context}
    if allocation is not None:
        spec["allocation"] = {f"{layer}.{name}": [r, d] for (layer, name), (r, d) in sorted(allocation.items())}
    return spec


def manifest_sha256(artifact: str | Path) -> str | None:
    """sha256 of an artifact's manifest.json (None when it has none)."""
    manifest = Path(artifact) / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None


def artifact_workload(path: str, model: object, phase: str, batch: int, seq: int, scope: str = "projections",
                      context: int = 0) -> dict:
    """The workload spec of a run on a compressed artifact (real masks)."""
    return {"kind": "artifact", "artifact": str(Path(path).resolve()), "manifest_sha256": manifest_sha256(path),
            "model": dataclasses.asdict(model) if model else None, "phase": phase, "batch": batch, "seq": seq,
            "scope": scope, "context": context}


def provenance(hw: HardwareConfig, workload: dict, argv: list[str]) -> dict:
    """The provenance block of a report."""
    hardware = hw.model_dump(mode="json")
    return {"hardware": hardware, "hardware_sha256": canonical_sha256(hardware), "workload": workload,
            **environment(argv)}


def environment(argv: list[str]) -> dict:
    """The versions, machine and command line a result came from."""
    return {
        "simulator_version": __version__,
        "package_version": _version("sslcsim"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "command": "sslcsim " + " ".join(shlex.quote(a) for a in argv),
    }


def read_json_report(path: str | Path) -> dict:
    """A JSON report file's object; InputError (one line) when missing, not a regular file,
    over 1 GB, not UTF-8, not JSON or not an object."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: report not found (or not a regular file)")
    if p.stat().st_size > 1 << 30:
        raise InputError(f"{p}: over 1 GB; not a report")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{p}: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a JSON object")
    return data


def differences(old: dict, new: dict, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ (empty: identical)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += differences(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [path]
