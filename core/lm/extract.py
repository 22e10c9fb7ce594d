"""One forward pass per batch gives every layer's ``resid_pre``, ``attn_out`` and ``mlp_out``.

Forward hooks on the real module code reduce each ``(batch, pos, d_model)`` activation to
pooled vectors inside the hook, so no full sequence is ever kept.  Batches are length-sorted
and padded on the right: a causal model's real tokens never see right padding, so a batch
gives the same vectors as one text at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np

from core.lm.architectures import get_module, unwrap
from core.lm.loading import LoadedModel
from core.lm.sinks import norm_ratios
from core.lm.tokens import TokenPlan, batch_tensors, batches, plan_tokens
from core.names import COMPONENTS
from core.stimuli import StimulusSet


@contextmanager
def hooks(model: LoadedModel, sink: Callable[[str, int, object], None], components=COMPONENTS):
    """Register the component hooks for the duration of the block; always removed."""
    handles = []
    layout = model.layout
    try:
        for layer, block in enumerate(model.blocks):
            if "resid_pre" in components:

                def pre(module, args, kwargs, layer=layer):
                    hidden = args[0] if args else kwargs["hidden_states"]
                    sink("resid_pre", layer, hidden)

                handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
            for component, path in (("attn_out", layout.attn_out), ("mlp_out", layout.mlp_out)):
                if component not in components:
                    continue

                def post(module, args, output, component=component, layer=layer):
                    sink(component, layer, unwrap(output))

                handles.append(get_module(block, path).register_forward_hook(post))
        yield
    finally:
        for handle in handles:
            handle.remove()


def extract(
    model: LoadedModel,
    stimuli: StimulusSet,
    *,
    poolings: Sequence[str] = ("mean",),
    components: Sequence[str] = COMPONENTS,
    rows: Sequence[int] | None = None,
    batch_tokens: int = 8192,
    max_batch: int = 64,
    plan: TokenPlan | None = None,
    on_batch: Callable[[int], None] | None = None,
    backend: str = "hooks",
    remote: bool = False,
    on_norms: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Pooled activations of every layer and component.

    Parameters
    ----------
    model : LoadedModel
    stimuli : StimulusSet
    poolings : sequence of {"mean", "last", "mean_skip0"}, default=("mean",)
        All poolings come from the same forward pass (see :func:`plan_tokens`).
    components : sequence of str, default=("resid_pre", "attn_out", "mlp_out")
    rows : sequence of int, optional
        Only these rows of ``stimuli`` (for resumable chunks); all by default.
    batch_tokens, max_batch : int
        Padded tokens and texts per batch.
    on_batch : callable, optional
        Called with the number of texts just finished, for progress bars.
    backend : {"hooks", "nnsight"}, default="hooks"
        PyTorch forward hooks, or an nnsight trace over the same modules (which can run on
        NDIF with ``remote=True``, reducing to pooled vectors on the server).
    on_norms : callable, optional
        Called per batch as ``on_norms(rows, ratios)`` with the batch's rows of ``stimuli``
        and an array of shape (batch, n_layers): the first token's ``resid_pre`` norm over
        the median of the others (:func:`core.lm.sinks.norm_ratios`), read in the same hook
        at no extra pass (hooks backend with ``resid_pre`` only).

    Returns
    -------
    dict
        ``{pooling: {component: array of shape (n_rows, n_layers, d_model)}}``, float32, in
        the order of ``rows``.
    """
    import torch

    plan = plan or plan_tokens(
        model.tokenizer,
        stimuli,
        poolings=poolings,
        max_length=getattr(model.config, "max_position_embeddings", None),
    )
    rows = np.arange(len(stimuli)) if rows is None else np.asarray(rows)
    n_layers, d_model = model.info.n_layers, model.info.d_model
    out = {
        p: {c: torch.empty((len(rows), n_layers, d_model), dtype=torch.float32) for c in components}
        for p in poolings
    }
    pad_id = model.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = model.tokenizer.eos_token_id or 0
    lengths = plan.lengths[rows]
    order = batches(lengths, batch_tokens=batch_tokens, max_batch=max_batch)
    if backend == "nnsight":
        from core.lm.nnsight_backend import pooled_batch

        for batch in order:
            ids, mask, weights = batch_tensors(plan, rows[batch], poolings, pad_id)
            pooled = pooled_batch(model, ids, mask, weights, components, remote=remote)
            for component, values in pooled.items():  # (batch, layer, pooling, d_model)
                for p, pooling in enumerate(poolings):
                    out[pooling][component][torch.as_tensor(batch)] = values[:, :, p]
            if on_batch is not None:
                on_batch(len(batch))
        return {p: {c: t.numpy() for c, t in comps.items()} for p, comps in out.items()}
    device = model.base.get_input_embeddings().weight.device
    state: dict = {}
    measure_norms = on_norms is not None and "resid_pre" in components

    def sink(component: str, layer: int, hidden) -> None:
        if measure_norms and component == "resid_pre":
            state["norms"][layer] = norm_ratios(hidden, state["mask"].to(hidden.device))
        weights = state["weights"].get(hidden.device)
        if weights is None:
            weights = state["weights"][hidden.device] = state["cpu_weights"].to(hidden.device)
        pooled = torch.bmm(weights.to(hidden.dtype), hidden)  # (batch, pooling, d_model)
        # to the CPU at once: a model split over devices gives each layer on its own device
        state["pooled"][component][layer] = pooled.to("cpu", torch.float32)

    with torch.inference_mode(), hooks(model, sink, components):
        for batch in order:
            ids, mask, weights = batch_tensors(plan, rows[batch], poolings, pad_id)
            state.update(
                cpu_weights=weights,
                weights={},
                pooled={c: [None] * n_layers for c in components},
                mask=mask,
                norms=[None] * n_layers,
            )
            model.base(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
            if measure_norms:
                on_norms(rows[batch], np.stack(state["norms"], axis=1))
            slots = torch.as_tensor(batch)
            for component, layers in state["pooled"].items():  # one copy per batch, not per hook
                stacked = torch.stack(layers, dim=1)  # (batch, layer, pooling, d_model)
                for p, pooling in enumerate(poolings):
                    out[pooling][component][slots] = stacked[:, :, p]
            if on_batch is not None:
                on_batch(len(batch))
    return {p: {c: t.numpy() for c, t in comps.items()} for p, comps in out.items()}
