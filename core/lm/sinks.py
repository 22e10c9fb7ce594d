"""Attention sinks, measured per layer: the first token's residual norm and attention mass.

Small LMs park attention on position 0 and give that token massive activations (Sun et al.
2024; Xiao et al. 2023); in the layers where this happens every probe can dip at once.  Two
numbers per layer say where:

``norm_ratio``
    ``‖resid_pre[l] at position 0‖ / median over positions > 0`` per text, then the median
    over texts.  Read inside the extraction's ``resid_pre`` hook (:func:`norm_ratios`),
    so it costs nothing and covers every stimulus; a cached run gets it from the
    attention pass below instead.
``attn_pos0``
    The attention weight on position 0, averaged over heads, query positions > 0 and texts.
    ``sdpa`` never materialises the weights, so it takes a separate pass with eager
    attention over a small fixed subset of texts (:func:`attention_pass`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

N_TEXTS = 32
"""Texts in the eager-attention pass: evenly spaced over the set, the same every run."""


def sink_rows(n_items: int, n_texts: int = N_TEXTS) -> np.ndarray:
    """The fixed subset the attention pass reads: ``n_texts`` rows evenly spaced."""
    return np.unique(np.linspace(0, n_items - 1, min(n_texts, n_items)).round().astype(int))


def norm_ratios(hidden, mask) -> np.ndarray:
    """Per text, the first token's residual norm over the median norm of its other tokens.

    Parameters
    ----------
    hidden : torch.Tensor of shape (batch, pos, d_model)
    mask : torch.Tensor of shape (batch, pos)
        1 on real tokens, 0 on right padding.

    Returns
    -------
    ndarray of shape (batch,)
        NaN for a text of one token.
    """
    import torch

    norms = hidden.float().norm(dim=-1)  # (batch, pos)
    rest = norms.masked_fill(mask == 0, float("nan"))[:, 1:]
    median = torch.nanmedian(rest, dim=1).values if rest.shape[1] else norms[:, 0] * np.nan
    return (norms[:, 0] / median).cpu().numpy()


def _batch_size(n_texts: int, width: int, n_layers: int, n_heads: int, budget: int) -> int:
    """Texts per pass so that every layer's attention weights (kept until the pass ends)
    fit in ``budget`` bytes of float32."""
    per_text = max(1, n_layers * n_heads * width * width * 4)
    return max(1, min(n_texts, budget // per_text))


def attention_pass(
    model,
    input_ids: Sequence[Sequence[int]],
    *,
    max_batch: int | None = None,
    budget_bytes: int = 2**29,
) -> pd.DataFrame:
    """Per layer, the first token's norm ratio and attention mass on a few texts (eager).

    Parameters
    ----------
    model : LoadedModel
    input_ids : sequence of sequence of int
        Token ids of the texts to read (a few dozen; see :func:`sink_rows`).
    max_batch : int, optional
        Texts per forward pass; by default as many as keep every layer's attention
        weights under ``budget_bytes`` (few passes: each costs a full read of the weights).
    budget_bytes : int, default=512 MiB

    Returns
    -------
    DataFrame
        ``layer``, ``norm_ratio`` (median over texts), ``attn_pos0`` (mean over heads,
        query positions > 0 and texts), ``n_texts`` (texts of two or more tokens).
    """
    import torch

    base = model.base
    previous = base.config._attn_implementation
    n_layers = model.info.n_layers
    ratios, masses = [], []
    pad_id = model.tokenizer.pad_token_id
    pad_id = pad_id if pad_id is not None else (model.tokenizer.eos_token_id or 0)
    device = base.get_input_embeddings().weight.device
    texts = sorted((list(ids) for ids in input_ids if len(ids) > 1), key=len, reverse=True)
    if max_batch is None and texts:
        n_heads = getattr(base.config, "num_attention_heads", 1) or 1
        max_batch = _batch_size(len(texts), len(texts[0]), n_layers, n_heads, budget_bytes)
    max_batch = max_batch or 1
    try:
        base.set_attn_implementation("eager")
        with torch.inference_mode():
            for start in range(0, len(texts), max_batch):
                chunk = texts[start : start + max_batch]
                width = max(map(len, chunk))
                ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for b, tokens in enumerate(chunk):
                    ids[b, : len(tokens)] = torch.tensor(tokens)
                    mask[b, : len(tokens)] = 1
                out = base(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    output_attentions=True,
                    output_hidden_states=True,
                    use_cache=False,
                )
                # hidden_states[i] is resid_pre[i] for i < n_layers (the last is after the norm)
                ratios.append(
                    np.stack([norm_ratios(out.hidden_states[i], mask) for i in range(n_layers)], 1)
                )
                queries = mask[:, 1:].float()  # (batch, pos - 1): real queries after position 0
                per_layer = []
                for attn in out.attentions:  # (batch, heads, q, k)
                    to_first = attn[:, :, 1:, 0].float().mean(dim=1).cpu()  # (batch, q)
                    per_layer.append((to_first * queries).sum(1) / queries.sum(1))
                masses.append(torch.stack(per_layer, dim=1).numpy())
    finally:
        base.set_attn_implementation(previous)
    ratio = np.concatenate(ratios) if ratios else np.full((0, n_layers), np.nan)
    mass = np.concatenate(masses) if masses else np.full((0, n_layers), np.nan)
    return pd.DataFrame(
        {
            "layer": np.arange(n_layers),
            "norm_ratio": np.nanmedian(ratio, axis=0) if len(ratio) else np.nan,
            "attn_pos0": mass.mean(axis=0) if len(mass) else np.nan,
            "n_texts": len(texts),
        }
    )
