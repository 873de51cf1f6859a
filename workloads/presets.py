"""Model shapes: named presets (public config values) and transformers `config.json` files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workloads.errors import InputError
from workloads.jsonfile import read_json
from workloads.limits import MAX_FEATURES, MAX_HEADS, MAX_LAYERS


@dataclass(frozen=True)
class ModelShape:
    """The shapes that matter to the accelerator: one decoder layer, repeated `num_layers` times."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    num_layers: int
    head_dim: int

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    def projections(self) -> list[tuple[str, str, int, int]]:
        """(name, module, m = out features, n = in features) of one decoder layer."""
        h, f = self.hidden_size, self.intermediate_size
        return [
            ("q_proj", "MHA", self.q_dim, h),
            ("k_proj", "MHA", self.kv_dim, h),
            ("v_proj", "MHA", self.kv_dim, h),
            ("o_proj", "MHA", h, self.q_dim),
            ("gate_proj", "FFN", f, h),
            ("up_proj", "FFN", f, h),
            ("down_proj", "FFN", h, f),
        ]


def _shape(name: str, h: int, f: int, heads: int, kv: int, layers: int) -> ModelShape:
    return ModelShape(name, h, f, heads, kv, layers, h // heads)


# From each model's public config.json.
PRESETS: dict[str, ModelShape] = {
    s.name: s
    for s in (
        _shape("llama-2-7b", 4096, 11008, 32, 32, 32),
        _shape("llama-3-8b", 4096, 14336, 32, 8, 32),
        _shape("qwen2.5-7b", 3584, 18944, 28, 4, 28),
        _shape("qwen2.5-14b", 5120, 13824, 40, 8, 48),
        _shape("smollm2-135m", 576, 1536, 9, 3, 30),
    )
}


# the largest shape accepted: sizes up to 2^20 features, 4096 layers, 2^16 heads (workloads.limits);
# whether the simulator can hold a shape's tiles is checked against the hardware and the
# tokens (simulator/program/footprint.py)
LIMITS = {"num_hidden_layers": MAX_LAYERS, "num_attention_heads": MAX_HEADS, "num_key_value_heads": MAX_HEADS}


def _int_key(cfg: dict, key: str, source: str, default: int | None = None) -> int:
    value = cfg.get(key, default)
    top = LIMITS.get(key, MAX_FEATURES)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top:
        raise InputError(f"{source}: key '{key}': expected an integer in 1..{top}, got {value!r}")
    return value


def _check_heads(h: int, heads: int, kv: int, head_dim_given: bool, source: str) -> None:
    if heads % kv:
        raise InputError(f"{source}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}")
    if not head_dim_given and h % heads:
        raise InputError(f"{source}: hidden_size {h} is not divisible by num_attention_heads {heads} "
                         "(and no head_dim is given)")


def shape_from_config(path: str | Path) -> ModelShape:
    """Read a transformers causal-LM `config.json` (LLaMA/Qwen2/Mistral style)."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    cfg = read_json(p, "model config")
    if not isinstance(cfg, dict):
        raise InputError(f"{p}: expected a JSON object")
    src = str(p)
    h = _int_key(cfg, "hidden_size", src)
    heads = _int_key(cfg, "num_attention_heads", src)
    _check_heads(h, heads, _int_key(cfg, "num_key_value_heads", src, heads), cfg.get("head_dim") is not None, src)
    return ModelShape(
        name=str(cfg.get("_name_or_path") or cfg.get("model_type") or p.resolve().parent.name),
        hidden_size=h,
        intermediate_size=_int_key(cfg, "intermediate_size", src),
        num_attention_heads=heads,
        num_key_value_heads=_int_key(cfg, "num_key_value_heads", src, heads),
        num_layers=_int_key(cfg, "num_hidden_layers", src),
        head_dim=_int_key(cfg, "head_dim", src, h // heads) if cfg.get("head_dim") is not None else h // heads,
    )


def resolve_model(spec: str) -> ModelShape:
    """A preset name (case-insensitive) or a path to a config.json / model directory."""
    key = spec.lower()
    if key in PRESETS:
        return PRESETS[key]
    if Path(spec).exists():
        return shape_from_config(spec)
    raise InputError(f"model '{spec}': unknown preset (expected one of {', '.join(PRESETS)}) and no such config.json path")
