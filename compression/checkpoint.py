"""A transformers safetensors checkpoint on disk: which file holds which key, shapes, reads.

One ``model.safetensors`` or shards listed in ``model.safetensors.index.json``. Only
file headers are read when the checkpoint is opened; tensors are read one key at a time
with ``safe_open`` (each read is a copy, so dropping it frees its memory).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from workloads.errors import InputError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def has_safetensors(directory: str | Path) -> bool:
    """True when the directory holds transformers safetensors weights (one file or an index)."""
    d = Path(directory)
    return (d / INDEX_FILE).is_file() or (d / SINGLE_FILE).is_file()


def _shard_map(index: Path) -> dict[str, Path]:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{index}: not a safetensors index with a 'weight_map' ({type(exc).__name__})") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError(f"{index}: 'weight_map' must map tensor names to shard file names")
    return {key: index.parent / name for key, name in weight_map.items()}


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"{path}: not a readable safetensors file ({exc})") from None


class Checkpoint:
    """Key -> file and key -> shape of every tensor in a safetensors checkpoint directory."""

    def __init__(self, directory: str | Path):
        d = Path(directory)
        index = d / INDEX_FILE
        if index.is_file():
            self.name = str(index)
            files = _shard_map(index)
        elif (d / SINGLE_FILE).is_file():
            self.name = str(d / SINGLE_FILE)
            files = None
        else:
            raise InputError(f"{d}: no {SINGLE_FILE} or {INDEX_FILE} (streamed loading reads safetensors only)")
        shapes: dict[str, dict[str, tuple[int, ...]]] = {}
        for path in sorted(set(files.values())) if files else [d / SINGLE_FILE]:
            if not path.is_file():
                key = next(k for k, p in files.items() if p == path)
                raise InputError(f"{path}: shard listed in {index} (for key '{key}') does not exist")
            shapes[str(path)] = _header_shapes(path)
        if files is None:
            files = {k: d / SINGLE_FILE for k in shapes[self.name]}
        for key, path in files.items():
            if key not in shapes[str(path)]:
                raise InputError(f"{path}: key '{key}' listed in {index} is not in this shard")
        self._files = files
        self._shapes = {k: shapes[str(p)][k] for k, p in files.items()}

    def __contains__(self, key: str) -> bool:
        return key in self._files

    def check(self, key: str, shape: tuple[int, ...]) -> None:
        """The key exists and has this shape, else InputError naming the file and key."""
        if key not in self._files:
            raise InputError(f"{self.name}: key '{key}' is missing from the checkpoint (the model needs it; "
                             f"--no-stream lets transformers load checkpoints that need key conversion)")
        if self._shapes[key] != tuple(shape):
            raise InputError(f"{self._files[key]}: key '{key}' has shape {list(self._shapes[key])}, "
                             f"the model expects {list(shape)}")

    def read(self, keys: dict[str, str], like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{name: tensor} for {name: checkpoint key}, each checked against like[name]'s shape and
        cast to its dtype; each file is opened once."""
        by_file: dict[Path, list[str]] = {}
        for name, key in keys.items():
            self.check(key, tuple(like[name].shape))
            by_file.setdefault(self._files[key], []).append(name)
        out: dict[str, torch.Tensor] = {}
        for path, names in by_file.items():
            try:
                with safe_open(str(path), framework="pt") as fh:
                    for name in names:
                        out[name] = fh.get_tensor(keys[name]).to(like[name].dtype)
            except (SafetensorError, OSError) as exc:
                raise InputError(f"{path}: cannot read tensors ({exc})") from None
        return out
