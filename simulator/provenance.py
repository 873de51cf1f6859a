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

# the parts of a report that are numbers of the simulation (everything else is labels)
NUMBERS = ("totals", "engines", "modules", "layers", "projections")


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
                   layers: int | None) -> dict:
    """The workload spec of a shape-only run (synthetic seeded masks)."""
    return {"kind": "shape", "model": dataclasses.asdict(model), "budget": dataclasses.asdict(budget),
            "phase": phase, "batch": batch, "seq": seq, "seed": seed, "layers": layers}


def artifact_workload(path: str, model: object, phase: str, batch: int, seq: int) -> dict:
    """The workload spec of a run on a compressed artifact (real masks)."""
    manifest = Path(path) / "manifest.json"
    return {"kind": "artifact", "artifact": str(Path(path).resolve()), "manifest_sha256":
            hashlib.sha256(manifest.read_bytes()).hexdigest(), "model": dataclasses.asdict(model) if model else None,
            "phase": phase, "batch": batch, "seq": seq}


def provenance(hw: HardwareConfig, workload: dict, argv: list[str]) -> dict:
    """The provenance block of a report."""
    hardware = hw.model_dump(mode="json")
    return {
        "hardware": hardware,
        "hardware_sha256": canonical_sha256(hardware),
        "workload": workload,
        "simulator_version": __version__,
        "package_version": _version("sslcsim"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "command": "sslcsim " + " ".join(shlex.quote(a) for a in argv),
    }


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
