"""Extraction against a bare base-model forward pass over the same batches.

    python bench/extract.py [--model smollm2-135m] [--stimuli items] [--n 400]

Prints both times and their ratio; the target is at most 1.2×.  Also the cost of the
attention-sink statistics: norm ratios in the hook, and the eager pass over 32 texts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from bench.common import best_of, header
from core.lm import batches, extract, load, plan_tokens
from core.lm.sinks import attention_pass, sink_rows
from core.stimuli import load as load_stimuli


def bare_forward(model, plan, order_batches, pad_id) -> None:
    """The same batches through the base model with no hooks: the floor."""
    with torch.inference_mode():
        for batch in order_batches:
            width = int(plan.lengths[batch].max())
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, item in enumerate(batch):
                tokens = plan.input_ids[item]
                ids[b, : len(tokens)] = torch.tensor(tokens)
                mask[b, : len(tokens)] = 1
            model.base(input_ids=ids, attention_mask=mask, use_cache=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--stimuli", default="items")
    parser.add_argument("--n", type=int, default=0, help="first n items (0: all)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header(f"extraction vs bare forward: {args.model} on {args.stimuli}")
    model = load(args.model)
    stimuli = load_stimuli(args.stimuli)
    if args.n:
        stimuli = stimuli.subset(range(min(args.n, len(stimuli))))
    plan = plan_tokens(model.tokenizer, stimuli, poolings=("mean", "last"))
    order = batches(plan.lengths, batch_tokens=8192, max_batch=64)
    pad = model.tokenizer.pad_token_id or 0
    torch.set_num_threads(torch.get_num_threads())
    bare = best_of(lambda: bare_forward(model, plan, order, pad), repeat=args.repeat)
    full = best_of(
        lambda: extract(model, stimuli, poolings=("mean",), plan=plan), repeat=args.repeat
    )
    both = best_of(
        lambda: extract(model, stimuli, poolings=("mean", "last"), plan=plan), repeat=args.repeat
    )
    norms = best_of(
        lambda: extract(
            model, stimuli, poolings=("mean",), plan=plan, on_norms=lambda rows, r: None
        ),
        repeat=args.repeat,
    )
    rows = sink_rows(len(stimuli))
    sinks = best_of(
        lambda: attention_pass(model, [plan.input_ids[i] for i in rows]), repeat=args.repeat
    )
    n_tokens = int(np.sum(plan.lengths))
    print(f"items {len(stimuli)}, tokens {n_tokens}, batches {len(order)}, ", end="")
    print(f"layers {model.info.n_layers}")
    print(f"bare base-model forward          {bare:7.3f} s")
    print(f"extract 3 components, 1 pooling  {full:7.3f} s   ratio {full / bare:5.2f}x")
    print(f"extract 3 components, 2 poolings {both:7.3f} s   ratio {both / bare:5.2f}x")
    print(f"extract 1 pooling + sink norms   {norms:7.3f} s   ratio {norms / bare:5.2f}x")
    print(
        f"eager attention pass, {len(rows)} texts {sinks:7.3f} s   "
        f"{sinks / full:5.1%} of the 1-pooling extraction"
    )


if __name__ == "__main__":
    main()
