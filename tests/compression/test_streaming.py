"""Streamed models (one decoder layer in memory at a time) from tiny safetensors checkpoints:
the same artifacts and perplexities as the whole-model path, never two layers resident,
resume, tied embeddings, float32 from bfloat16, and one-line errors for broken checkpoints."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from compression import evaluate, export, models, pipeline, streaming, text
from sslcsim.cli import main

from _tiny_models import save_tiny_model_dir

SHARD = "100KB"  # a tiny layer is ~150 KB: its tensors spread over several shards


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    return {
        "llama": save_tiny_model_dir(root / "llama", "llama", max_shard_size=SHARD),
        "qwen2": save_tiny_model_dir(root / "qwen2", "qwen2", max_shard_size=SHARD),
        "llama-single": save_tiny_model_dir(root / "llama-single", "llama"),
        "llama-tied": save_tiny_model_dir(root / "llama-tied", "llama", tie=True, max_shard_size=SHARD),
        "qwen2-bf16": save_tiny_model_dir(root / "qwen2-bf16", "qwen2", dtype=torch.bfloat16,
                                          max_shard_size=SHARD),
        "llama-3": save_tiny_model_dir(root / "llama-3", "llama", layers=3, max_shard_size=SHARD),
    }


class Residency:
    """Checks, at every decoder-layer call and after every load, that no layer other than the
    one being used holds a non-meta parameter."""

    def __init__(self, lm: models.LoadedModel):
        self.layers = models.layer_stack(lm.model)
        self.loaded: list[int] = []
        self.calls_with_weights = 0
        for i, layer in enumerate(self.layers):
            layer.register_forward_pre_hook(partial(self._on_call, i))
        materialise = lm.store.materialise

        def watched(i):
            layer = materialise(i)
            assert self.resident() == [i]
            self.loaded.append(i)
            return layer

        lm.store.materialise = watched

    def resident(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if any(not p.is_meta for p in layer.parameters())]

    def _on_call(self, i, module, args):
        now = self.resident()
        assert now in ([], [i]), f"layer {i} called while layers {now} hold weights"
        self.calls_with_weights += now == [i]

    def check_finished(self, loaded: list[int]) -> None:
        assert self.loaded == loaded and self.calls_with_weights > 0
        assert self.resident() == []


def _compress(lm, method, out, **kw):
    hp = {"iters": 4} if method == "sslc" else {}
    return pipeline.compress_model(lm, method, hp, 0, str(out), calib_samples=4, calib_seqlen=32,
                                   show_progress=False, **kw)


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


@pytest.mark.parametrize("name,method", [("llama", "sslc"), ("qwen2", "wanda"), ("llama-single", "wanda"),
                                         ("llama-tied", "sslc")])
def test_streamed_compression_is_bit_identical(dirs, name, method, tmp_path):
    whole = models.load(str(dirs[name]), stream=False)
    streamed = models.load(str(dirs[name]), stream=True)
    assert whole.store is None and streamed.store is not None
    if name != "llama-single":
        assert len(list(dirs[name].glob("model-*.safetensors"))) > 2
    watch = Residency(streamed)
    _compress(whole, method, tmp_path / "whole")
    man = _compress(streamed, method, tmp_path / "streamed")
    watch.check_finished([0, 1])
    assert man["complete"]
    assert _files(tmp_path / "streamed") == _files(tmp_path / "whole")  # manifest and every layer file


def test_streamed_resume_is_bit_identical(dirs, tmp_path):
    d = str(dirs["llama-3"])
    _compress(models.load(d, stream=True), "sslc", tmp_path / "full")
    part = _compress(models.load(d, stream=True), "sslc", tmp_path / "part", max_layers=1)
    assert not part["complete"] and len(part["layers"]) == 1
    resumed = models.load(d, stream=True)
    watch = Residency(resumed)
    assert _compress(resumed, "sslc", tmp_path / "part")["complete"]
    watch.check_finished([0, 1, 2])  # the finished layer 0 is read again to feed layer 1
    assert _files(tmp_path / "part") == _files(tmp_path / "full")


@pytest.mark.parametrize("name", ["llama-tied", "qwen2-bf16"])
def test_streamed_weights_equal_whole_model(dirs, name):
    whole = models.load(str(dirs[name]), stream=False)
    streamed = models.load(str(dirs[name]), stream=True)
    ref = whole.model.state_dict()
    prefix = "model.layers."
    got = {k: v for k, v in streamed.model.state_dict().items() if not k.startswith(prefix)}
    for i in range(len(models.layer_stack(streamed.model))):
        with streamed.layer(i) as layer:
            got.update({f"{prefix}{i}.{k}": v.clone() for k, v in layer.state_dict().items()})
    assert got.keys() == ref.keys()
    for k, v in ref.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    buffers = dict(streamed.model.named_buffers())
    assert "model.rotary_emb.inv_freq" in buffers  # computed, not in the checkpoint
    assert all(v.dtype == torch.float32 for k, v in got.items() if "inv_freq" not in k)
    m = streamed.model
    assert (m.lm_head.weight is m.model.embed_tokens.weight) == (name == "llama-tied")
    assert not m.lm_head.weight.is_meta and not m.model.embed_tokens.weight.is_meta


@pytest.mark.parametrize("modules", [True, False])
def test_streamed_perplexity_equals_whole_model(dirs, modules, tmp_path):
    d = str(dirs["llama-tied"])
    art = tmp_path / "art"
    _compress(models.load(d, stream=True), "wanda", art)
    whole, dense = models.load(d, stream=False), models.load(d, stream=False)
    windows = evaluate.eval_windows(whole.tokenizer, text.evaluation_text(), 32, 5)
    export.apply_artifact(whole.model, art, modules=modules)
    streamed = models.load(d, stream=True)
    watch = Residency(streamed)
    got = evaluate.streamed_perplexity(streamed, windows, batch=2, artifact_dir=str(art), modules=modules)
    watch.check_finished([0, 1])
    assert got == evaluate.perplexity(whole.model, windows, batch=2)
    dense_ppl = evaluate.perplexity(dense.model, windows, batch=2)
    assert evaluate.streamed_perplexity(models.load(d, stream=True), windows, batch=2) == dense_ppl
    assert got != dense_ppl


def test_cli_streams_safetensors_by_default(dirs, tmp_path, capsys, monkeypatch):
    loads: list[int] = []
    materialise = streaming.LayerStore.materialise
    monkeypatch.setattr(streaming.LayerStore, "materialise", lambda self, i: loads.append(i) or materialise(self, i))
    d = str(dirs["qwen2"])
    base = ["compress", "--model", d, "--method", "wanda", "--calib-samples", "2", "--calib-seqlen", "32",
            "--no-progress"]
    assert main(base + ["--out", str(tmp_path / "auto")]) == 0
    assert loads == [0, 1]
    assert main(base + ["--no-stream", "--out", str(tmp_path / "whole")]) == 0
    assert loads == [0, 1]
    assert _files(tmp_path / "auto") == _files(tmp_path / "whole")
    capsys.readouterr()
    ppl = {}
    for flag in ("--stream", "--no-stream"):
        assert main(["evaluate", "--model", d, "--artifact", str(tmp_path / "auto"), "--seqlen", "32",
                     "--windows", "3", flag]) == 0
        out = capsys.readouterr().out
        ppl[flag] = json.loads(out[out.index("{"):])["perplexity"]
    assert loads == [0, 1, 0, 1] and ppl["--stream"] == ppl["--no-stream"]


def _one_line_error(capsys, argv, *fragments) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("sslcsim: error: "), err
    for f in fragments:
        assert f in err, err


def _rewrite_shard(d: Path, key: str, change) -> Path:
    index = json.loads((d / "model.safetensors.index.json").read_text())
    shard = d / index["weight_map"][key]
    tensors = load_file(shard)
    change(tensors)
    save_file(tensors, shard, metadata={"format": "pt"})
    return shard


KEY = "model.layers.1.mlp.up_proj.weight"


def _missing_shard(d):
    shard = d / json.loads((d / "model.safetensors.index.json").read_text())["weight_map"][KEY]
    shard.unlink()
    return [shard.name, "model.safetensors.index.json", "does not exist"]


def _key_not_in_index(d):
    index = json.loads((d / "model.safetensors.index.json").read_text())
    del index["weight_map"][KEY]
    (d / "model.safetensors.index.json").write_text(json.dumps(index))
    return ["model.safetensors.index.json", KEY, "missing"]


def _key_not_in_shard(d):
    shard = _rewrite_shard(d, KEY, lambda t: t.pop(KEY))
    return [shard.name, KEY, "not in this shard"]


def _wrong_shape(d):
    shard = _rewrite_shard(d, KEY, lambda t: t.update({KEY: t[KEY][:, :32].contiguous()}))
    return [shard.name, KEY, "[128, 32]", "[128, 64]"]


def _corrupt_shard(d):
    shard = d / json.loads((d / "model.safetensors.index.json").read_text())["weight_map"][KEY]
    shard.write_bytes(shard.read_bytes()[:50])
    return [shard.name, "not a readable safetensors file"]


@pytest.mark.parametrize("breakage", [_missing_shard, _key_not_in_index, _key_not_in_shard, _wrong_shape,
                                      _corrupt_shard])
def test_broken_checkpoint_exit_2(dirs, breakage, tmp_path, capsys):
    d = tmp_path / "model"
    shutil.copytree(dirs["llama"], d)
    fragments = breakage(d)
    out = tmp_path / "out"
    _one_line_error(capsys, ["compress", "--model", str(d), "--method", "wanda", "--out", str(out)], *fragments)
    assert not out.exists()  # found at load, before anything is computed or written
    _one_line_error(capsys, ["evaluate", "--model", str(d), "--seqlen", "32", "--windows", "1"], *fragments)


def test_stream_needs_safetensors(dirs, tmp_path, capsys):
    d = tmp_path / "bin"
    shutil.copytree(dirs["llama-single"], d)
    whole = models.load(str(d), stream=False)
    (d / "model.safetensors").unlink()
    torch.save(whole.model.state_dict(), d / "pytorch_model.bin")
    assert models.load(str(d), stream=None).store is None  # .bin loads whole
    _one_line_error(capsys, ["compress", "--model", str(d), "--stream", "--out", str(tmp_path / "o")],
                    "--stream", "safetensors")
