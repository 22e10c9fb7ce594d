"""The names every stage shares, defined once: components, poolings, the built-in sets' order.

The component names follow TransformerLens's hook grammar (``blocks.{l}.hook_resid_pre``,
``hook_attn_out``, ``hook_mlp_out``), in the order they run inside a block; a test pins them.
"""

from __future__ import annotations

import re

COMPONENTS: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out")
"""``resid_pre[l]``: the residual stream entering block ``l``; ``attn_out[l]`` and
``mlp_out[l]``: what block ``l``'s attention and MLP sublayers add to it."""

HALF_POOLINGS: dict[int, dict[str, tuple[int, ...]]] = {
    4: {"mean_ab": (0, 1), "mean_cd": (2, 3)},
    2: {"mean_x": (0,), "mean_y": (1,)},
}
"""Half-stimulus controls, by the number of target words a row has: each pooling averages
the tokens of only these target words (0-based, in the order of the ``words`` column).
For an analogy ``a:b::c:d`` the halves are the two pairs; for a pair ``x, y`` the words."""

POOLINGS: tuple[str, ...] = (
    "mean",
    "last",
    "mean_skip0",
    *(name for halves in HALF_POOLINGS.values() for name in halves),
)
"""How a text's token vectors become one vector (see :mod:`core.lm.tokens`)."""


def half_words(pooling: str) -> tuple[int, tuple[int, ...]] | None:
    """``(n_words, word indices)`` of a half-stimulus pooling; ``None`` for any other."""
    for n_words, halves in HALF_POOLINGS.items():
        if pooling in halves:
            return n_words, halves[pooling]
    return None


SET_ORDER: tuple[str, ...] = ("items", "pairs", "analogies", "buried")
"""The paper's experiments, shallowest expected first: how sets are listed everywhere."""

HIERARCHY: tuple[str, ...] = SET_ORDER[:3]
"""The order the hierarchy test asks about: items < pairs < analogies."""


def _natural(name: str) -> list:
    """``buried-25`` before ``buried-100``: digits compare as numbers."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


def in_set_order(names) -> list[str]:
    """Stimulus-set names with the paper's sets first, in :data:`SET_ORDER`, then the rest."""
    names = set(names)
    rest = sorted(names - set(SET_ORDER), key=_natural)
    return [s for s in SET_ORDER if s in names] + rest
