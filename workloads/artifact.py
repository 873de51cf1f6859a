"""The compressed-artifact format (DESIGN.md data contract 1): writer and reader.

numpy + safetensors.numpy only -- no torch here, so a sweep worker reads artifacts
without installing the compression stack.

Layout of an artifact directory::

    manifest.json
    layer_000.safetensors
    layer_001.safetensors
    ...

Each layer file holds, for every compressed projection ``P`` (its qualified name inside
the layer, e.g. ``self_attn.q_proj`` or ``intermediate.dense``):

    P.U           float32  (m, r)     low-rank left factor  (r may be 0)
    P.V           float32  (r, n)     low-rank right factor
    P.S.values    float32  (nnz,)     CSR values (rows = output features m)
    P.S.indices   uint16 if n <= 65535 else uint32, (nnz,)  column indices
    P.S.indptr    int64    (m + 1,)   CSR row pointers
    P.act_norm    float32  (n,)       per-input-channel ||X_j||_2 used by the method

so that ``W ~ S + U @ V``.  S includes the preserved top-salience entries.

Files are written atomically (tmp file + ``os.replace``); the manifest is rewritten
atomically after every layer, so an interrupted run can resume from the last layer
that the manifest lists.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from numba import njit
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from workloads.errors import InputError
from workloads.jsonfile import read_json
from workloads.limits import MAX_FEATURES, MAX_LAYERS

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODULE_KINDS = ("attention", "mlp")
TENSOR_SUFFIXES = ("U", "V", "S.values", "S.indices", "S.indptr", "act_norm")

_MODEL_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "architecture": (str,),
    "num_layers": (int,),
    "hidden_size": (int,),
    "intermediate_size": (int,),
    "num_attention_heads": (int,),
    "num_key_value_heads": (int,),
    "head_dim": (int,),
}
_TOP_KEYS: dict[str, tuple[type, ...]] = {
    "format_version": (int,),
    "model": (dict,),
    "method": (str,),
    "hyperparameters": (dict,),
    "seed": (int,),
    "calibration": (dict,),
    "layers": (list,),
    "complete": (bool,),
}
_CALIB_KEYS: dict[str, tuple[type, ...]] = {"text": (str,), "samples": (int,), "seqlen": (int,)}
_LAYER_KEYS: dict[str, tuple[type, ...]] = {
    "index": (int,),
    "file": (str,),
    "sha256": (str,),
    "projections": (list,),
}
_PROJ_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "module": (str,),
    "shape": (list,),
    "rank": (int,),
    "nnz": (int,),
    "density": (float, int),
    "preserved": (int,),
}


@dataclass
class ProjectionTensors:
    """One compressed projection: ``W ~ CSR(values, indices, indptr) + U @ V``."""

    name: str
    module: str
    shape: tuple[int, int]
    rank: int
    U: np.ndarray
    V: np.ndarray
    values: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    act_norm: np.ndarray

    @classmethod
    def from_tensors(cls, entry: dict, tensors: dict[str, np.ndarray]) -> "ProjectionTensors":
        """A manifest projection entry's arrays, from a layer file's {key: array}."""
        name = entry["name"]
        return cls(name=name, module=entry["module"], shape=(entry["shape"][0], entry["shape"][1]),
                   rank=entry["rank"], U=tensors[f"{name}.U"], V=tensors[f"{name}.V"],
                   values=tensors[f"{name}.S.values"], indices=tensors[f"{name}.S.indices"],
                   indptr=tensors[f"{name}.S.indptr"], act_norm=tensors[f"{name}.act_norm"])

    def tensors(self) -> dict[str, np.ndarray]:
        """{layer-file key: array}: the inverse of `from_tensors`."""
        n = self.name
        return {f"{n}.U": self.U, f"{n}.V": self.V, f"{n}.S.values": self.values, f"{n}.S.indices": self.indices,
                f"{n}.S.indptr": self.indptr, f"{n}.act_norm": self.act_norm}

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def sparse_dense(self) -> np.ndarray:
        """S as a dense (m, n) float32 array (for tests and small matrices)."""
        m, n = self.shape
        out = np.zeros((m, n), dtype=np.float32)
        rows = np.repeat(np.arange(m), np.diff(self.indptr))
        out[rows, self.indices.astype(np.int64)] = self.values
        return out

    def dense(self) -> np.ndarray:
        """The reconstructed weight S + U V as a dense float32 array."""
        return self.sparse_dense() + (self.U @ self.V).astype(np.float32)


def index_dtype(n: int) -> np.dtype:
    """Unsigned column-index dtype sized to the number of columns n."""
    return np.dtype(np.uint16) if n <= 65535 else np.dtype(np.uint32)


def layer_file_name(index: int) -> str:
    return f"layer_{index:03d}.safetensors"


# --------------------------------------------------------------------------- writing


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@njit(cache=True)
def _has_duplicate_in_a_row(indptr: np.ndarray, indices: np.ndarray, n: int) -> bool:
    """O(nnz + n): stamp each column with the last row that used it."""
    last = np.full(n, -1, np.int64)
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            if last[c] == r:
                return True
            last[c] = r
    return False


def _check_projection_tensors(where: str, name: str, tensors: dict[str, np.ndarray], entry: dict) -> None:
    """Validate one projection's arrays against its manifest entry (shared by writer and reader)."""
    for suffix in TENSOR_SUFFIXES:
        if f"{name}.{suffix}" not in tensors:
            raise InputError(f"{where}: missing tensor '{name}.{suffix}'")
    shape = entry["shape"]
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise InputError(f"{where}: projection '{name}' key 'shape': expected [m, n] positive ints, got {shape!r}")
    m, n = shape
    r = entry["rank"]
    U, V = tensors[f"{name}.U"], tensors[f"{name}.V"]
    vals, idx, ptr = tensors[f"{name}.S.values"], tensors[f"{name}.S.indices"], tensors[f"{name}.S.indptr"]
    act = tensors[f"{name}.act_norm"]
    for key, arr, dt in ((f"{name}.U", U, np.float32), (f"{name}.V", V, np.float32),
                         (f"{name}.S.values", vals, np.float32), (f"{name}.act_norm", act, np.float32),
                         (f"{name}.S.indptr", ptr, np.int64)):
        if arr.dtype != dt:
            raise InputError(f"{where}: tensor '{key}': expected dtype {np.dtype(dt).name}, got {arr.dtype.name}")
    want_idx = index_dtype(n)
    if idx.dtype != want_idx:
        raise InputError(f"{where}: tensor '{name}.S.indices': expected dtype {want_idx.name} for n={n}, "
                         f"got {idx.dtype.name}")
    if U.shape != (m, r):
        raise InputError(f"{where}: tensor '{name}.U': expected shape ({m}, {r}), got {U.shape}")
    if V.shape != (r, n):
        raise InputError(f"{where}: tensor '{name}.V': expected shape ({r}, {n}), got {V.shape}")
    if act.shape != (n,):
        raise InputError(f"{where}: tensor '{name}.act_norm': expected shape ({n},), got {act.shape}")
    if ptr.shape != (m + 1,):
        raise InputError(f"{where}: tensor '{name}.S.indptr': expected shape ({m + 1},), got {ptr.shape}")
    if ptr[0] != 0 or np.any(np.diff(ptr) < 0):
        raise InputError(f"{where}: tensor '{name}.S.indptr': expected non-decreasing row pointers from 0")
    nnz = int(ptr[-1])
    if vals.shape != (nnz,) or idx.shape != (nnz,):
        raise InputError(f"{where}: projection '{name}': indptr[-1]={nnz} but values {vals.shape} / "
                         f"indices {idx.shape}")
    if entry["nnz"] != nnz:
        raise InputError(f"{where}: projection '{name}' key 'nnz': manifest says {entry['nnz']}, "
                         f"indptr[-1] is {nnz}")
    if nnz and int(idx.max()) >= n:
        raise InputError(f"{where}: tensor '{name}.S.indices': column index {int(idx.max())} out of range n={n}")
    if nnz:
        # no duplicate (row, column) pairs; order inside a row is free
        if _has_duplicate_in_a_row(ptr.astype(np.int64), idx.astype(np.int64), n):
            raise InputError(f"{where}: tensor '{name}.S.indices': duplicate column index within a row")
    for key, arr in ((f"{name}.U", U), (f"{name}.V", V), (f"{name}.S.values", vals), (f"{name}.act_norm", act)):
        if arr.size and not np.all(np.isfinite(arr)):
            raise InputError(f"{where}: tensor '{key}': contains NaN or Inf")
    if act.size and np.any(act < 0):
        raise InputError(f"{where}: tensor '{name}.act_norm': expected non-negative norms")
    density = entry["density"]
    if not math.isclose(float(density), nnz / (m * n), rel_tol=1e-9, abs_tol=1e-12):
        raise InputError(f"{where}: projection '{name}' key 'density': {density} != nnz/(m*n) = {nnz / (m * n)}")
    if not (0 <= entry["preserved"] <= nnz):
        raise InputError(f"{where}: projection '{name}' key 'preserved': {entry['preserved']} not in [0, nnz={nnz}]")
    if entry["module"] not in MODULE_KINDS:
        raise InputError(f"{where}: projection '{name}' key 'module': expected one of {MODULE_KINDS}, "
                         f"got {entry['module']!r}")


def projection_entry(name: str, module: str, shape: tuple[int, int], rank: int, nnz: int,
                     preserved: int, **extra: Any) -> dict:
    """Build a manifest projection entry (density computed here so it always matches)."""
    m, n = int(shape[0]), int(shape[1])
    entry = {"name": name, "module": module, "shape": [m, n], "rank": int(rank), "nnz": int(nnz),
             "density": nnz / (m * n), "preserved": int(preserved)}
    entry.update(extra)
    return entry


def write_layer(out_dir: str | os.PathLike, index: int, tensors: dict[str, np.ndarray],
                projections: list[dict]) -> dict:
    """Write ``layer_{index:03d}.safetensors`` atomically; return its manifest layer entry.

    ``tensors`` maps ``P.U`` ... ``P.act_norm`` to arrays; ``projections`` are the manifest
    entries (see ``projection_entry``).  Everything is validated before anything is written.
    """
    out = Path(out_dir)
    fname = layer_file_name(index)
    where = str(out / fname)
    clean: dict[str, np.ndarray] = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    names = set()
    for p in projections:
        _check_keys(where, f"projection '{p.get('name', '?')}'", p, _PROJ_KEYS)
        if p["name"] in names:
            raise InputError(f"{where}: projection '{p['name']}' listed twice")
        names.add(p["name"])
        _check_projection_tensors(where, p["name"], clean, p)
    expected = {f"{p['name']}.{s}" for p in projections for s in TENSOR_SUFFIXES}
    extra = set(clean) - expected
    if extra:
        raise InputError(f"{where}: tensors not described by any projection: {sorted(extra)[:5]}")
    # one metadata key: safetensors does not keep the order of several, and the bytes
    # (hence the sha256) must be reproducible
    data = _st_save(clean, metadata={"sslcsim_artifact": f"format_version={FORMAT_VERSION};layer={index}"})
    _atomic_write_bytes(out / fname, data)
    return {"index": int(index), "file": fname, "sha256": hashlib.sha256(data).hexdigest(),
            "projections": projections}


def write_manifest(out_dir: str | os.PathLike, manifest: dict) -> None:
    """Validate and atomically (re)write ``manifest.json``."""
    path = Path(out_dir) / MANIFEST_NAME
    _validate_manifest(str(path), manifest)
    data = json.dumps(manifest, indent=1, sort_keys=False).encode() + b"\n"
    _atomic_write_bytes(path, data)


# --------------------------------------------------------------------------- reading


def _type_name(types: tuple[type, ...]) -> str:
    return "/".join(t.__name__ for t in types)


def _check_keys(where: str, what: str, obj: Any, spec: dict[str, tuple[type, ...]]) -> None:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: {what}: expected an object, got {type(obj).__name__}")
    for key, types in spec.items():
        if key not in obj:
            raise InputError(f"{where}: {what}: missing key '{key}'")
        val = obj[key]
        ok = isinstance(val, types) and not (isinstance(val, bool) and bool not in types)
        if not ok:
            raise InputError(f"{where}: {what} key '{key}': expected {_type_name(types)}, "
                             f"got {type(val).__name__}")


def _validate_manifest(where: str, man: Any) -> None:
    _check_keys(where, "manifest", man, _TOP_KEYS)
    if man["format_version"] != FORMAT_VERSION:
        raise InputError(f"{where}: key 'format_version': expected {FORMAT_VERSION}, got {man['format_version']}")
    _check_keys(where, "'model'", man["model"], _MODEL_KEYS)
    for key in ("num_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads"):
        if key in man["model"] and not 0 < man["model"][key] <= (MAX_LAYERS if key == "num_layers" else MAX_FEATURES):
            raise InputError(f"{where}: 'model' key '{key}': expected a positive size, got {man['model'][key]}")
    _check_keys(where, "'calibration'", man["calibration"], _CALIB_KEYS)
    seen = set()
    for i, layer in enumerate(man["layers"]):
        _check_keys(where, f"layers[{i}]", layer, _LAYER_KEYS)
        idx = layer["index"]
        if idx in seen or idx < 0 or idx >= man["model"]["num_layers"]:
            raise InputError(f"{where}: layers[{i}] key 'index': {idx} duplicated or outside "
                             f"[0, num_layers={man['model']['num_layers']})")
        seen.add(idx)
        if layer["file"] != layer_file_name(idx):
            raise InputError(f"{where}: layers[{i}] key 'file': expected '{layer_file_name(idx)}', "
                             f"got {layer['file']!r}")
        sha = layer["sha256"]
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InputError(f"{where}: layers[{i}] key 'sha256': expected 64 lowercase hex digits")
        for j, p in enumerate(layer["projections"]):
            _check_keys(where, f"layers[{i}].projections[{j}]", p, _PROJ_KEYS)
            if p["module"] not in MODULE_KINDS:
                raise InputError(f"{where}: layers[{i}].projections[{j}] key 'module': expected one of "
                                 f"{MODULE_KINDS}, got {p['module']!r}")
            shape = p["shape"]
            if (len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                           for v in shape)):
                raise InputError(f"{where}: layers[{i}].projections[{j}] key 'shape': expected [m, n] "
                                 f"positive ints, got {shape!r}")
            if p["rank"] < 0 or p["nnz"] < 0 or p["nnz"] > shape[0] * shape[1]:
                raise InputError(f"{where}: layers[{i}].projections[{j}]: rank/nnz out of range")
    if man["complete"] and len(seen) != man["model"]["num_layers"]:
        raise InputError(f"{where}: key 'complete' is true but {len(seen)} of "
                         f"{man['model']['num_layers']} layers are listed")


def load_manifest(path: str | os.PathLike) -> dict:
    """Read and validate ``manifest.json`` (path to the file or to the artifact directory)."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise InputError(f"{p}: no such manifest (expected an artifact directory holding {MANIFEST_NAME})")
    man = read_json(p, "artifact manifest")  # size and nesting bounded before parsing
    _validate_manifest(str(p), man)
    return man


def check_files(path: str | os.PathLike) -> dict:
    """The validated manifest, after checking that every layer file it lists is a regular
    file (no layer is read: cheap enough to run before loading a model)."""
    man = load_manifest(path)
    root = Path(path)
    root = root.parent if root.is_file() else root
    for layer in man["layers"]:
        f = root / layer["file"]
        if not f.is_file() or f.is_symlink():
            raise InputError(f"{f}: layer {layer['index']} is not a regular file")
    return man


def _stored_layer_index(data: bytes) -> int | None:
    """The layer index write_layer stored in a layer file's safetensors metadata (None if absent)."""
    try:
        size = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8:8 + size]).get("__metadata__", {}).get("sslcsim_artifact", "")
        return int(dict(kv.split("=", 1) for kv in meta.split(";"))["layer"])
    except (ValueError, KeyError, AttributeError):
        return None


def read_layer(path: str | os.PathLike, layer: dict, verify: bool = True) -> dict[str, ProjectionTensors]:
    """Load one layer's tensors (``layer`` is its manifest entry)."""
    root = Path(path)
    if root.is_file():
        root = root.parent
    fpath = root / layer["file"]
    where = str(fpath)
    if not fpath.is_file() or fpath.is_symlink():  # a FIFO or /dev/zero would hang or exhaust memory
        raise InputError(f"{where}: layer {layer['index']} is not a regular file")
    try:
        data = fpath.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read layer {layer['index']} ({exc.strerror or exc})") from None
    if verify:
        digest = hashlib.sha256(data).hexdigest()
        if digest != layer["sha256"]:
            raise InputError(f"{where}: sha256 mismatch for layer {layer['index']} "
                             f"(manifest {layer['sha256'][:12]}..., file {digest[:12]}...)")
    try:
        tensors = _st_load(data)
    except Exception as exc:  # safetensors raises SafetensorError / ValueError on corrupt headers
        raise InputError(f"{where}: not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    stored = _stored_layer_index(data)
    if stored != layer["index"]:
        raise InputError(f"{where}: holds layer {stored}, but the manifest names it layer {layer['index']}")
    out: dict[str, ProjectionTensors] = {}
    for p in layer["projections"]:
        name = p["name"]
        if verify:
            _check_projection_tensors(where, name, tensors, p)
        else:
            for suffix in TENSOR_SUFFIXES:
                if f"{name}.{suffix}" not in tensors:
                    raise InputError(f"{where}: missing tensor '{name}.{suffix}'")
        out[name] = ProjectionTensors.from_tensors(p, tensors)
    return out


def iter_layers(path: str | os.PathLike, verify: bool = True
                ) -> Iterator[tuple[dict, dict[str, ProjectionTensors]]]:
    """Yield ``(layer_entry, {projection name: ProjectionTensors})`` one layer at a time."""
    man = load_manifest(path)
    root = Path(path)
    if root.is_file():
        root = root.parent
    for layer in sorted(man["layers"], key=lambda e: e["index"]):
        yield layer, read_layer(root, layer, verify=verify)


def dense_to_csr(S: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (values, indices, indptr) of S at the positions of a boolean mask.

    The mask, not S != 0, decides what is stored: a kept entry whose value happens to be
    zero is still stored, so nnz equals the budget exactly.
    """
    m, n = mask.shape
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return (np.ascontiguousarray(S[rows, cols], dtype=np.float32), cols.astype(index_dtype(n)), indptr)
