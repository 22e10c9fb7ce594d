"""From texts to token ids and pooling weights: what each pooled vector averages.

Tokenising is done once per stimulus set, with the tokenizer's character offsets, so a
target word's tokens are found exactly; batches are length-sorted and padded on the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import StrataError
from core.names import half_words
from core.stimuli import StimulusSet


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
    word there.  The half-stimulus poolings (:data:`core.names.HALF_POOLINGS`) are ``mean``
    over the tokens of some target words only (``mean_ab``: words a and b of four), so they
    equal ``mean`` on a set whose ``words`` are just those.  With ``chat_template`` each
    text becomes a user turn of the tokenizer's chat template (generation prompt
    included), as Instruct models are used; spans move with the text and ``last`` is the
    template's final token.
    """
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
            half = half_words(pooling)
            if half is not None:
                pool = _half_tokens(half, spans, offsets, text_tokens, stimuli, i, pooling)
            else:
                pool = [t for t in chosen if t != 0] if pooling == "mean_skip0" else chosen
            if not pool:
                raise ExtractionError(
                    f"item '{stimuli.frame['item_id'][i]}': no token to average over under "
                    f"pooling '{pooling}'"
                )
            weights[pooling].append({t: 1.0 / len(pool) for t in pool})
    return TokenPlan(input_ids=list(encoded["input_ids"]), weights=weights)


def _half_tokens(half, spans, offsets, text_tokens, stimuli, i, pooling) -> list[int]:
    """The text tokens overlapping only the target words a half pooling keeps."""
    n_words, keep = half
    if len(spans) != n_words:
        raise ExtractionError(
            f"item '{stimuli.frame['item_id'][i]}' has {len(spans)} target words; pooling "
            f"'{pooling}' needs {n_words}"
        )
    kept = [spans[k] for k in keep]
    return [t for t in text_tokens if any(offsets[t][0] < b and offsets[t][1] > a for a, b in kept)]


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
