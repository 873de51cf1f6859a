"""Tiny randomly initialised LLaMA / Qwen2 models (no download) and a byte tokenizer."""

from __future__ import annotations

from functools import lru_cache

import torch


class ByteTokenizer:
    """Minimal tokenizer: one id per byte (the compression pipeline only needs __call__)."""

    def __call__(self, text, add_special_tokens=False, return_attention_mask=False, **kw):
        return {"input_ids": list(text.encode("utf-8"))}


def tiny_model(kind: str = "llama", layers: int = 2, seed: int = 0, tie: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    common = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=256, max_position_embeddings=256, tie_word_embeddings=tie)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    return model.eval()


def loaded(kind="llama", layers=2, seed=0):
    from compression.models import LoadedModel

    return LoadedModel(tiny_model(kind, layers, seed), ByteTokenizer(), f"tiny-{kind}", True)


@lru_cache(maxsize=1)
def _bpe_tokenizer():
    """A real BPE tokenizer trained on the fly (once per test process)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from compression.text import calibration_text

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=256, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([calibration_text()[:20000]], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def save_tiny_model_dir(path, kind="llama", layers=2, tie=False, dtype=None, max_shard_size=None):
    """A tiny model + a real BPE tokenizer in a transformers directory (safetensors weights;
    sharded with an index when max_shard_size is given, e.g. "100KB")."""
    model = tiny_model(kind, layers, tie=tie)
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(path, **({"max_shard_size": max_shard_size} if max_shard_size else {}))
    _bpe_tokenizer().save_pretrained(path)
    return path
