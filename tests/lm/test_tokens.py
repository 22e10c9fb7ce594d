"""Tokens and pooling weights: which tokens each pooled vector averages, batching budgets."""

from __future__ import annotations

import numpy as np
import pytest

from core.lm import ExtractionError, batches, plan_tokens
from tests.helpers import tiny_stimuli


def test_batches_are_length_sorted_and_within_budget():
    lengths = np.array([3, 9, 4, 9, 2, 7])
    out = batches(lengths, batch_tokens=18, max_batch=4)
    flat = np.concatenate(out)
    assert sorted(flat) == list(range(6))
    assert list(lengths[flat]) == sorted(lengths, reverse=True)
    assert all(len(b) * lengths[b].max() <= 18 for b in out)


def test_mean_pools_exactly_the_target_word_tokens(smol_tokenizer):
    stimuli = tiny_stimuli()
    plan = plan_tokens(smol_tokenizer, stimuli, poolings=("mean", "last", "mean_skip0"))
    enc = smol_tokenizer(stimuli.texts[0], return_offsets_mapping=True)
    # "A big apple and a small one": the word "apple" is the token(s) covering chars 6:11
    expected = [t for t, (s, e) in enumerate(enc["offset_mapping"]) if s < 11 and e > 6]
    assert sorted(plan.weights["mean"][0]) == expected
    assert plan.weights["last"][0] == {len(enc["input_ids"]) - 1: 1.0}
    assert sum(plan.weights["mean"][0].values()) == pytest.approx(1.0)


def test_skip_first_drops_position_zero_only_when_the_word_is_there(smol_tokenizer):
    import pandas as pd

    from core.stimuli import validate

    frame = pd.DataFrame(
        {
            "item_id": ["a", "b"],
            "text": ["apple is to tree", "A tree"],
            "group": ["a", "b"],
            "words": ["apple|tree", "tree"],
            "y:binary": ["0", "1"],
        }
    )
    stimuli = validate(frame, name="t", n_folds=1)
    plan = plan_tokens(smol_tokenizer, stimuli, poolings=("mean", "mean_skip0"))
    assert 0 in plan.weights["mean"][0] and 0 not in plan.weights["mean_skip0"][0]
    assert plan.weights["mean"][1] == plan.weights["mean_skip0"][1]


def test_too_long_text_is_refused_with_its_item(smol_tokenizer):
    with pytest.raises(ExtractionError, match=r"item .apple. is .* tokens long"):
        plan_tokens(smol_tokenizer, tiny_stimuli(), max_length=3)


def test_chat_template_moves_spans_with_the_text(smol_tokenizer):
    stimuli = tiny_stimuli()
    plain = plan_tokens(smol_tokenizer, stimuli, poolings=("mean", "last"))
    chat = plan_tokens(smol_tokenizer, stimuli, poolings=("mean", "last"), chat_template=True)
    assert len(chat.input_ids[0]) > len(plain.input_ids[0]) + 5
    ids = chat.input_ids[0]
    word = smol_tokenizer.decode([ids[t] for t in sorted(chat.weights["mean"][0])])
    assert word.strip() == "apple"
    assert list(chat.weights["last"][0]) == [len(ids) - 1]
