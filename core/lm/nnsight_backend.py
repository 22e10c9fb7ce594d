"""Extraction through nnsight: the same modules, traced locally or on NDIF.

Locally, ``NNsight`` wraps the loaded base model and must give exactly what the plain hooks
give (a test checks it).  Remotely, ``LanguageModel(hub_id)`` holds only the config and
tokenizer here, and ``trace(..., remote=True)`` runs the model on NDIF (e.g.
Llama-3.3-70B-Instruct): the pooling weights travel with the request and every activation
is reduced to its pooled vectors on the server before ``.save()``, so a batch comes back as
``layers × components × poolings × d_model`` numbers, not full sequences.

Remote runs need ``pip install nnsight`` and an NDIF API key (``NDIF_API_KEY``, from
https://login.ndif.us); the model must be deployed there (``nnsight.ndif_status()``).
"""

from __future__ import annotations

import os
import socket

from core.embedded import ALIASES
from core.errors import ModelError, first_line
from core.lm.architectures import get_module, layout_for, unwrap
from core.lm.identity import ModelId, ModelInfo
from core.lm.loading import LoadedModel

NDIF_HOST = ("api.ndif.us", 443)


def _nnsight():
    try:
        import nnsight
    except ImportError:
        raise ModelError("the nnsight backend needs nnsight: pip install nnsight==0.8.1") from None
    return nnsight


def _envoys(model: LoadedModel):
    """The nnsight root to trace and the envoy of the base model inside it."""
    cached = model.traced
    if cached is None:
        nnsight = _nnsight()
        if model.base is None:
            raise ModelError("this model has no local weights and no remote handle")
        cached = (nnsight.NNsight(model.base), None)
        model.traced = cached
    root, base_path = cached
    return root, (get_module(root, base_path) if base_path else root)


def pooled_batch(model: LoadedModel, ids, mask, weights, components, *, remote: bool = False):
    """One traced forward pass; returns ``{component: tensor (batch, layer, pooling, d)}``."""
    import torch

    root, base = _envoys(model)
    layout = model.layout
    saved: dict[str, list] = {c: [] for c in components}
    kwargs = {"remote": True} if remote else {}
    with torch.inference_mode(), root.trace(input_ids=ids, attention_mask=mask, **kwargs):
        blocks = get_module(base, layout.layers)
        n_layers = model.info.n_layers
        for layer in range(n_layers):
            block = blocks[layer]
            # modules must be read in the order they run: block input, attention, MLP
            if "resid_pre" in components:
                hidden = block.input
                saved["resid_pre"].append(torch.bmm(weights.to(hidden.dtype), hidden).save())
            if "attn_out" in components:
                hidden = unwrap(get_module(block, layout.attn_out).output)
                saved["attn_out"].append(torch.bmm(weights.to(hidden.dtype), hidden).save())
            if "mlp_out" in components:
                hidden = unwrap(get_module(block, layout.mlp_out).output)
                saved["mlp_out"].append(torch.bmm(weights.to(hidden.dtype), hidden).save())
    return {
        c: torch.stack([torch.as_tensor(v).float().cpu() for v in values], dim=1)
        for c, values in saved.items()
    }


def load_remote(name: str, *, api_key: str | None = None) -> LoadedModel:
    """A hub model to run on NDIF: config and tokenizer here, weights on the server.

    Raises
    ------
    ModelError
        Without nnsight, without an API key, without a network path to NDIF, or for a
        name that is not a hub id.
    """
    nnsight = _nnsight()
    if name in ALIASES or "/" not in name:
        raise ModelError(
            f"remote execution needs a hub id such as meta-llama/Llama-3.3-70B-Instruct, "
            f"not '{name}'"
        )
    key = api_key or os.environ.get("NDIF_API_KEY")
    if not key:
        raise ModelError(
            "remote execution on NDIF needs an API key: get one at https://login.ndif.us and "
            "set NDIF_API_KEY"
        )
    try:
        socket.create_connection(NDIF_HOST, timeout=5).close()
    except OSError:
        raise ModelError(
            f"cannot reach NDIF at {NDIF_HOST[0]}: remote execution needs a network"
        ) from None
    nnsight.CONFIG.set_default_api_key(key)
    try:
        root = nnsight.LanguageModel(name)
    except Exception as exc:  # config or tokenizer download problems
        raise ModelError(f"cannot prepare remote model '{name}': {first_line(exc)}") from None
    inner = root._model
    base = getattr(inner, "model", inner)
    config = getattr(inner.config, "text_config", None) or inner.config
    layout = layout_for(base)
    info = ModelInfo(
        id=ModelId(name, "remote", name, f"{name}@ndif", "bfloat16", "none"),
        architecture=getattr(config, "model_type", "?"),
        n_layers=len(get_module(base, layout.layers)),
        d_model=int(config.hidden_size),
        device_map="ndif",
        backend="nnsight-remote",
    )
    return LoadedModel(
        base=None,
        tokenizer=root.tokenizer,
        layout=layout,
        info=info,
        config=config,
        traced=(root, "model" if hasattr(inner, "model") else None),
    )
