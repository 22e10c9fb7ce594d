"""The app's terms, each explained once, in words a newcomer can follow.

Used as help texts (the ``?`` beside a widget) and in the glossary expander that pages can
show; figure captions use :data:`core.present.plots.GLOSSARY` for the component names.
"""

from __future__ import annotations

import streamlit as st

TERMS: dict[str, str] = {
    "components": "resid_pre = the residual stream entering a block (everything the model "
    "has computed so far); attn_out = what the block's attention adds to it; mlp_out = what "
    "the block's MLP adds to it.",
    "pooling": "How a text's token vectors become one vector per stimulus: mean = the "
    "average over the target words' tokens (the paper's choice); last = the final token; "
    "mean_skip0 = the mean without position 0 (the attention sink, where the first word of "
    "an unprefixed text sits); mean_ab / mean_cd = the mean over only words a and b / c "
    "and d of an analogy, and mean_x / mean_y over only one word of a pair (half-stimulus "
    "controls, added beside mean for those sets).",
    "CV groups": "Cross-validation groups: stimuli that share a word or a relation are kept "
    "in one group, and a group is never split between training and test folds, so a probe "
    "cannot pass by recognising a word it was trained on.",
    "permutations": "How many times the labels are shuffled (within and across the CV "
    "groups, so the link between stimulus and label is broken) and the probe refitted, at "
    "every layer: each layer's p-value comes from its own shuffles, and the smallest "
    "possible one is 1 / (1 + permutations). Their 2.5-97.5 % range is the grey band.",
    "device": "Where the shuffled labels' SVMs are solved: cpu, or a torch device such as "
    "cuda, cuda:1 or mps when the machine has one. The real fits always run on the CPU.",
    "half splits": "How many times the CV groups are split at random into two halves, each "
    "probed on its own; the two halves' curves give the split-half anti-persistence "
    "estimator, whose noise does not make it negative. 0 = no split-half estimate.",
    "normalised score": "Scores on one scale so targets can be averaged: 0 = chance, "
    "1 = perfect. Balanced accuracy becomes (score - chance) / (1 - chance); Pearson r "
    "is already 0 at chance.",
    "mean curve": "The mean over a stimulus set's targets of their normalised scores, per "
    "layer: one curve per set, so items, pairs and analogies share a figure.",
    "naive vs split-half": "Two estimates of whether adjacent layers alternate. Naive (the "
    "paper's): the lag-1 correlation of one curve's layer-to-layer differences; noise "
    "alone makes it about -0.5, so it is shown beside what noise alone gives. Split-half: the "
    "difference at one layer in one half of the stimuli against the next layer's in the "
    "other half; noise alone gives about 0, so below 0 means alternation.",
    "noise baseline": "What the statistic gives on noise alone: flat curves (naive) or flat "
    "halves (split-half) whose noise keeps the fold noise's correlation over layers and "
    "between targets. Anti-persistence is claimed only below its 95 % band (and below 0).",
    "relative depth": "layer / (number of layers - 1): 0 = the first layer, 1 = the last, "
    "so a 30-layer and an 80-layer model share one axis.",
    "peak": "The layer where the curve, smoothed over about one layer, is highest: the same "
    "peak on every page, in the report and in the deck.",
    "peak band": "The layers whose smoothed score is within one standard error (over folds) "
    "of the peak.",
    "gain over layer 0": "A curve minus the score of resid_pre at layer 0 (the token "
    "embeddings, before any attention ran) of the same targets, fold by fold; its band is "
    "the standard error of those per-fold differences. It peaks where the curve does; what "
    "it shows is how much of the peak the layers add to the embeddings.",
    "surface baseline": "The same probe, on the same folds, fitted on a few surface "
    "features per stimulus instead of activations: word frequency (Zipf) of the target "
    "words, their length in characters, the text's token count, the first target word's "
    "position, and all four together. Each target is measured against its best one; a "
    "curve beats it when some layer is above it fold by fold beyond the noise (one-sided t, "
    "Bonferroni over layers).",
    "expected depth": "The centre of mass of the score above chance along depth: a "
    "description, never a verdict (curves high everywhere put it near 0.5).",
}


def glossary(*terms: str) -> None:
    """An expander explaining ``terms`` (all of :data:`TERMS` when none are given)."""
    with st.expander("What the terms mean"):
        for term in terms or TERMS:
            st.markdown(f"**{term}**: {TERMS[term]}")
