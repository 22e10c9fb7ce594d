"""One forward pass per batch gives every layer's ``resid_pre``, ``attn_out`` and ``mlp_out``.

Forward hooks on the real module code reduce each ``(batch, pos, d_model)`` activation to
pooled vectors inside the hook, so no full sequence is ever kept.  Batches are length-sorted
and padded on the right: a causal model's real tokens never see right padding, so a batch
gives the same vectors as one text at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core.errors import StrataError
from core.models import COMPONENTS, LoadedModel, _get
from core.stimuli import StimulusSet

POOLINGS: tuple[str, ...] = ("mean", "last", "mean_skip0")


class ExtractionError(StrataError, RuntimeError):
    """Texts that cannot be pooled as asked (too long, a span with no token...)."""


@dataclass(frozen=True)
class TokenPlan:
    """Token ids and pooling weights per text, made once from the tokenizer's offsets.

    ``weights[p][i]`` maps token positions of text ``i`` to their weight under pooling ``p``.
    """

    input_ids: list[list[int]]
    weights: dict[str, list[dict[int, float]]]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(ids) for ids in self.input_ids])


def plan_tokens(
    tokenizer,
    stimuli: StimulusSet,
    *,
    poolings: Sequence[str] = ("mean",),
    max_length: int | None = None,
    chat_template: bool = False,
) -> TokenPlan:
    """Tokenise the texts and decide, per pooling, which positions each vector averages.

    ``mean`` averages the tokens overlapping the row's spans (its target words), or every
    text token when the row has none; special tokens (BOS) are never part of a mean.
    ``last`` takes the final token.  ``mean_skip0`` is ``mean`` without position 0: that
    position is an attention sink with outsized activations, and SmolLM2 (no BOS) puts a
    word there.  With ``chat_template`` each text becomes a user turn of the tokenizer's
    chat template (generation prompt included), as Instruct models are used; spans move
    with the text and ``last`` is the template's final token.
    """
    for pooling in poolings:
        if pooling not in POOLINGS:
            raise ExtractionError(f"unknown pooling '{pooling}'; use one of {', '.join(POOLINGS)}")
    texts, shifts = list(stimuli.texts), [0] * len(stimuli)
    if chat_template:
        texts, shifts = zip(*(in_chat(tokenizer, text) for text in stimuli.texts))
    try:
        encoded = tokenizer(
            list(texts), add_special_tokens=not chat_template, return_offsets_mapping=True
        )
    except NotImplementedError:
        raise ExtractionError(
            "this tokenizer gives no character offsets, so spans cannot be mapped to tokens; "
            "use a model with a fast tokenizer"
        ) from None
    weights: dict[str, list[dict[int, float]]] = {p: [] for p in poolings}
    for i, (ids, offsets) in enumerate(zip(encoded["input_ids"], encoded["offset_mapping"])):
        if max_length is not None and len(ids) > max_length:
            raise ExtractionError(
                f"item '{stimuli.frame['item_id'][i]}' is {len(ids)} tokens long; "
                f"the model takes at most {max_length}"
            )
        shift = shifts[i]
        spans = [(a + shift, b + shift) for a, b in stimuli.spans[i]]
        if chat_template and not spans:  # the user's text, not the template around it
            spans = [(shift, shift + len(stimuli.texts[i]))]
        text_tokens = [t for t, (s, e) in enumerate(offsets) if e > s]
        if spans:
            chosen = [
                t
                for t in text_tokens
                if any(offsets[t][0] < b and offsets[t][1] > a for a, b in spans)
            ]
        else:
            chosen = text_tokens
        for pooling in poolings:
            if pooling == "last":
                weights[pooling].append({len(ids) - 1: 1.0})
                continue
            pool = [t for t in chosen if t != 0] if pooling == "mean_skip0" else chosen
            if not pool:
                raise ExtractionError(
                    f"item '{stimuli.frame['item_id'][i]}': no token to average over under "
                    f"pooling '{pooling}'"
                )
            weights[pooling].append({t: 1.0 / len(pool) for t in pool})
    return TokenPlan(input_ids=list(encoded["input_ids"]), weights=weights)


def in_chat(tokenizer, text: str) -> tuple[str, int]:
    """The text as a user turn of the chat template, and where the text starts in it."""
    if not getattr(tokenizer, "chat_template", None):
        raise ExtractionError("this model's tokenizer has no chat template; run without it")
    templated = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    start = templated.find(text)
    if start < 0:
        raise ExtractionError(f"the chat template changes the text '{text}'; run without it")
    return templated, start


def batches(lengths: np.ndarray, *, batch_tokens: int, max_batch: int) -> list[np.ndarray]:
    """Length-sorted batches (longest first, so memory trouble shows at once) under a budget.

    A batch holds at most ``max_batch`` texts and ``batch_tokens`` padded tokens.
    """
    order = np.argsort(-lengths, kind="stable")
    out: list[np.ndarray] = []
    start = 0
    while start < len(order):
        width = int(lengths[order[start]])
        size = max(1, min(max_batch, batch_tokens // max(width, 1)))
        out.append(order[start : start + size])
        start += size
    return out


def batch_tensors(plan: TokenPlan, items: np.ndarray, poolings: Sequence[str], pad_id: int):
    """Right-padded ids, attention mask and pooling weights ``(batch, pooling, pos)``."""
    import torch

    width = max(len(plan.input_ids[i]) for i in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    weights = torch.zeros((len(items), len(poolings), width), dtype=torch.float32)
    for b, item in enumerate(items):
        tokens = plan.input_ids[item]
        ids[b, : len(tokens)] = torch.tensor(tokens)
        mask[b, : len(tokens)] = 1
        for p, pooling in enumerate(poolings):
            for position, weight in plan.weights[pooling][item].items():
                weights[b, p, position] = weight
    return ids, mask, weights


def unwrap(output):
    return output[0] if isinstance(output, tuple) else output


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

                handles.append(_get(block, path).register_forward_hook(post))
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
        from core.nnsight_backend import pooled_batch

        for batch in order:
            ids, mask, weights = batch_tensors(plan, rows[batch], poolings, pad_id)
            pooled = pooled_batch(model, ids, mask, weights, components, remote=remote)
            for component, values in pooled.items():  # (batch, layer, pooling, d_model)
                for p, pooling in enumerate(poolings):
                    out[pooling][component][torch.as_tensor(batch)] = values[:, :, p]
            if on_batch is not None:
                on_batch(len(batch))
        return {p: {c: t.numpy() for c, t in comps.items()} for p, comps in out.items()}
    if backend != "hooks":
        raise ExtractionError(f"unknown backend '{backend}'; use hooks or nnsight")
    device = model.base.get_input_embeddings().weight.device
    state: dict = {}

    def sink(component: str, layer: int, hidden) -> None:
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
                cpu_weights=weights, weights={}, pooled={c: [None] * n_layers for c in components}
            )
            model.base(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
            slots = torch.as_tensor(batch)
            for component, layers in state["pooled"].items():  # one copy per batch, not per hook
                stacked = torch.stack(layers, dim=1)  # (batch, layer, pooling, d_model)
                for p, pooling in enumerate(poolings):
                    out[pooling][component][slots] = stacked[:, :, p]
            if on_batch is not None:
                on_batch(len(batch))
    return {p: {c: t.numpy() for c, t in comps.items()} for p, comps in out.items()}
