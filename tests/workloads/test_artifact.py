"""Artifact format: bit-exact round trip and an InputError naming the file for each bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from workloads import artifact
from workloads.errors import InputError


def _proj(rng, name, m, n, r, density=0.3, module="mlp"):
    W = rng.standard_normal((m, n)).astype(np.float32)
    mask = rng.random((m, n)) < density
    values, indices, indptr = artifact.dense_to_csr(W, mask)
    tensors = {
        f"{name}.U": rng.standard_normal((m, r)).astype(np.float32),
        f"{name}.V": rng.standard_normal((r, n)).astype(np.float32),
        f"{name}.S.values": values, f"{name}.S.indices": indices, f"{name}.S.indptr": indptr,
        f"{name}.act_norm": rng.random(n).astype(np.float32),
    }
    entry = artifact.projection_entry(name, module, (m, n), r, int(mask.sum()), min(3, int(mask.sum())))
    return tensors, entry


def _manifest(layers, num_layers=2, complete=None):
    return {
        "format_version": 1,
        "model": {"id": "t", "architecture": "LlamaForCausalLM", "num_layers": num_layers, "hidden_size": 8,
                  "intermediate_size": 16, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4},
        "method": "sslc", "hyperparameters": {"ratio": 0.5, "rank": 2}, "seed": 0,
        "calibration": {"text": "x", "samples": 1, "seqlen": 8},
        "layers": layers, "complete": len(layers) == num_layers if complete is None else complete,
    }


@pytest.fixture
def art(tmp_path):
    rng = np.random.default_rng(0)
    saved = {}
    layers = []
    for i in range(2):
        t1, e1 = _proj(rng, "self_attn.q_proj", 8, 8, 2, module="attention")
        t2, e2 = _proj(rng, "mlp.down_proj", 8, 16, 0)
        tensors = {**t1, **t2}
        layers.append(artifact.write_layer(tmp_path, i, tensors, [e1, e2]))
        saved[i] = tensors
    artifact.write_manifest(tmp_path, _manifest(layers))
    return tmp_path, saved


def test_round_trip_bit_exact(art):
    path, saved = art
    seen = 0
    for entry, projs in artifact.iter_layers(path):
        for name, p in projs.items():
            for suffix, arr in (("U", p.U), ("V", p.V), ("S.values", p.values), ("S.indices", p.indices),
                                ("S.indptr", p.indptr), ("act_norm", p.act_norm)):
                want = saved[entry["index"]][f"{name}.{suffix}"]
                assert arr.dtype == want.dtype and arr.shape == want.shape
                assert arr.tobytes() == want.tobytes()
            seen += 1
    assert seen == 4
    man = artifact.load_manifest(path)
    assert man["complete"] is True
    p = next(artifact.iter_layers(path))[1]["mlp.down_proj"]
    assert p.U.shape == (8, 0) and p.V.shape == (0, 16)
    assert not [f for f in os.listdir(path) if f.endswith(".tmp")]


def test_index_dtype_sized_to_n(tmp_path):
    assert artifact.index_dtype(65535) == np.uint16
    assert artifact.index_dtype(65536) == np.uint32
    rng = np.random.default_rng(1)
    t, e = _proj(rng, "mlp.up_proj", 2, 70000, 1, density=0.001)
    assert t["mlp.up_proj.S.indices"].dtype == np.uint32
    entry = artifact.write_layer(tmp_path, 0, t, [e])
    artifact.write_manifest(tmp_path, _manifest([entry], num_layers=1))
    p = next(artifact.iter_layers(tmp_path))[1]["mlp.up_proj"]
    assert p.indices.dtype == np.uint32 and np.array_equal(p.dense(), p.sparse_dense() + p.U @ p.V)


def _expect(fn, *fragments):
    with pytest.raises(InputError) as ei:
        fn()
    msg = str(ei.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, msg
    return msg


def _edit_manifest(path, fn):
    man = json.loads((path / "manifest.json").read_text())
    fn(man)
    (path / "manifest.json").write_text(json.dumps(man))


def test_bad_manifests(art):
    path, _ = art
    _expect(lambda: artifact.load_manifest(path / "nope"), "nope")
    (path / "manifest.json").write_text("{not json")
    _expect(lambda: artifact.load_manifest(path), "manifest.json", "JSON")


@pytest.mark.parametrize("edit,fragment", [
    (lambda m: m.update(format_version=2), "format_version"),
    (lambda m: m.pop("seed"), "seed"),
    (lambda m: m.update(seed="0"), "seed"),
    (lambda m: m["model"].pop("head_dim"), "head_dim"),
    (lambda m: m["layers"][0].update(file="other.safetensors"), "file"),
    (lambda m: m["layers"][0].update(sha256="zz"), "sha256"),
    (lambda m: m["layers"][0]["projections"][0].update(module="conv"), "module"),
    (lambda m: m["layers"][0]["projections"][0].update(shape=[8]), "shape"),
    (lambda m: m["layers"].pop(), "complete"),
])
def test_bad_manifest_keys(art, edit, fragment):
    path, _ = art
    _edit_manifest(path, edit)
    _expect(lambda: artifact.load_manifest(path), "manifest.json", fragment)


def test_sha_mismatch_and_truncation(art):
    path, _ = art
    f = path / "layer_001.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    _expect(lambda: list(artifact.iter_layers(path)), "layer_001.safetensors", "sha256")
    f.write_bytes(bytes(data[: len(data) // 2]))
    _expect(lambda: list(artifact.iter_layers(path, verify=False)), "layer_001.safetensors", "safetensors")
    f.unlink()
    _expect(lambda: list(artifact.iter_layers(path)), "layer_001.safetensors")


def _rewrite_layer(path, index, mutate, mutate_entry=None):
    """Re-write a layer with mutated tensors bypassing write-time checks, fix the sha."""
    import hashlib

    from safetensors.numpy import load, save

    f = path / artifact.layer_file_name(index)
    tensors = dict(load(f.read_bytes()))
    mutate(tensors)
    data = save(tensors, metadata={"sslcsim_artifact": f"format_version={artifact.FORMAT_VERSION};layer={index}"})
    f.write_bytes(data)

    def fix(m):
        m["layers"][index]["sha256"] = hashlib.sha256(data).hexdigest()
        if mutate_entry:
            mutate_entry(m["layers"][index])
    _edit_manifest(path, fix)


@pytest.mark.parametrize("mutate,fragment", [
    (lambda t: t.__setitem__("self_attn.q_proj.U", t["self_attn.q_proj.U"][:, :1].copy()), "self_attn.q_proj.U"),
    (lambda t: t.__setitem__("self_attn.q_proj.S.indices", t["self_attn.q_proj.S.indices"].astype(np.uint32)),
     "dtype"),
    (lambda t: t["self_attn.q_proj.S.indices"].__setitem__(0, 9), "out of range"),
    (lambda t: t["mlp.down_proj.S.values"].__setitem__(0, np.nan), "NaN"),
    (lambda t: t["self_attn.q_proj.V"].__setitem__((0, 0), np.inf), "NaN or Inf"),
    (lambda t: t.pop("mlp.down_proj.act_norm"), "act_norm"),
    (lambda t: t.__setitem__("mlp.down_proj.S.indptr", t["mlp.down_proj.S.indptr"][::-1].copy()), "indptr"),
])
def test_bad_tensors(art, mutate, fragment):
    path, _ = art
    _rewrite_layer(path, 0, mutate)
    _expect(lambda: list(artifact.iter_layers(path)), "layer_000.safetensors", fragment)


def test_nnz_mismatch(art):
    path, _ = art

    def bump(entry):
        p = entry["projections"][1]
        p["nnz"] += 1
        m, n = p["shape"]
        p["density"] = p["nnz"] / (m * n)
    _rewrite_layer(path, 0, lambda t: None, bump)
    _expect(lambda: list(artifact.iter_layers(path)), "layer_000.safetensors", "nnz")


def test_duplicate_index_rejected(tmp_path):
    rng = np.random.default_rng(2)
    t, e = _proj(rng, "mlp.up_proj", 4, 4, 1, density=0.5)
    t["mlp.up_proj.S.indices"][:2] = 0  # first row lists column 0 twice (if the row has 2 entries)
    ptr = t["mlp.up_proj.S.indptr"]
    ptr[1:] = np.maximum(ptr[1:], 2)
    ptr[-1] = max(ptr[-1], 2)
    e["nnz"] = int(ptr[-1])
    nnz = int(ptr[-1])
    t["mlp.up_proj.S.values"] = np.zeros(nnz, np.float32)
    t["mlp.up_proj.S.indices"] = np.zeros(nnz, np.uint16)
    e["density"] = nnz / 16
    e["preserved"] = 0
    _expect(lambda: artifact.write_layer(tmp_path, 0, t, [e]), "layer_000.safetensors", "duplicate")


def test_swapped_layer_files_are_refused(art):
    """Two layer files swapped, their sha256 entries swapped with them: the layer index stored in
    each file disagrees with the manifest (issue 12: this once gave a wrong perplexity, exit 0)."""
    path, _ = art
    a, b = path / artifact.layer_file_name(0), path / artifact.layer_file_name(1)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)

    def swap(m):
        m["layers"][0]["sha256"], m["layers"][1]["sha256"] = m["layers"][1]["sha256"], m["layers"][0]["sha256"]
    _edit_manifest(path, swap)
    with pytest.raises(InputError, match="holds layer 1, but the manifest names it layer 0"):
        list(artifact.iter_layers(path))


def test_layer_file_that_is_not_a_regular_file_is_refused(art):
    import os

    path, _ = art
    f = path / artifact.layer_file_name(0)
    f.unlink()
    os.mkfifo(f)  # reading it would block forever
    with pytest.raises(InputError, match="not a regular file"):
        list(artifact.iter_layers(path))


def test_manifest_with_zero_layers_is_refused(art):
    path, _ = art

    def zero(m):
        m["model"]["num_layers"] = 0
    _edit_manifest(path, zero)
    with pytest.raises(InputError, match="'num_layers': expected a positive size, got 0"):
        artifact.load_manifest(path)
