"""Output-channel Fisher weights: the layer-by-layer backward (one layer in memory at a
time) equals a whole-model backward."""

from __future__ import annotations

import pytest
import torch

from compression import calibration, models, sensitivity
from workloads.errors import InputError

from _tiny_models import loaded


def _ids(seed: int = 0, n: int = 4, seq: int = 24) -> torch.Tensor:
    return torch.randint(0, 256, (n, seq), generator=torch.Generator().manual_seed(seed))


def _nll(model, ids: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=ids, use_cache=False).logits.float()
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             ids[:, 1:].reshape(-1), reduction="sum")


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_layerwise_fisher_equals_whole_model_backward(kind):
    lm, ids = loaded(kind, layers=3), _ids()
    chunks = calibration.capture_inputs(lm.model, ids, 2, True)
    fisher = sensitivity.output_fisher(lm, chunks, ids, 3)
    assert all(p.grad is None for p in lm.model.parameters())  # no gradients left on the model
    ref: dict[str, torch.Tensor] = {}
    handles = []
    for i, layer in enumerate(models.layer_stack(lm.model)):
        for name, mod in models.linear_projections(layer).items():
            key = f"{i}.{name}"

            def hook(mod, inp, out, key=key):
                out.register_hook(lambda g: ref.__setitem__(
                    key, ref.get(key, 0) + g.double().square().reshape(-1, g.shape[-1]).sum(0)))
            handles.append(mod.register_forward_hook(hook))
    for s in range(0, 4, 2):  # the same batches as the chunks
        _nll(lm.model, ids[s:s + 2]).backward()
    for h in handles:
        h.remove()
    assert set(fisher) == set(ref) and len(fisher) == 3 * 7
    for key, F in fisher.items():
        assert torch.allclose(F, ref[key] / ids.numel(), rtol=1e-4, atol=1e-12), key


def test_needs_a_causal_lm():
    lm = loaded("llama", layers=2)
    lm = models.LoadedModel(lm.model, lm.tokenizer, "tiny-encoder", False)
    with pytest.raises(InputError, match="causal LM"):
        sensitivity.output_fisher(lm, [], _ids(), 2)
