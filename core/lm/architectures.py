"""Where each architecture keeps its decoder blocks, and what each sublayer adds.

Architecture differences are data (as nnterp's renaming tables): a table maps a model type to
the module names of its blocks, its attention output and its MLP output; models not in the
table are found by looking for the usual names.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ModelError


@dataclass(frozen=True)
class Layout:
    """Where one architecture keeps its decoder blocks and what each sublayer adds.

    ``attn_out`` and ``mlp_out`` name the submodule of a block whose output is exactly what
    that sublayer adds to the residual stream (after any post-norm, before the add).  The
    first item is taken when a module returns a tuple.
    """

    layers: str
    attn_out: str
    mlp_out: str


_PRE_NORM = Layout("layers", "self_attn", "mlp")
_SANDWICH = Layout("layers", "post_attention_layernorm", "post_feedforward_layernorm")
ARCHITECTURES: dict[str, Layout] = {
    "llama": _PRE_NORM,
    "mistral": _PRE_NORM,
    "qwen2": _PRE_NORM,
    "qwen3": _PRE_NORM,
    "gemma": _PRE_NORM,
    "phi3": _PRE_NORM,
    "gemma2": _SANDWICH,
    "gemma3_text": _SANDWICH,
    "olmo2": _SANDWICH,
    "gpt2": Layout("h", "attn", "mlp"),
    "gpt_neox": Layout("layers", "attention", "mlp"),
}


def get_module(module, path: str):
    """``module.a.b.0.c`` by its dotted path (integers index lists)."""
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def layout_for(base) -> Layout:
    """The layout of a loaded base model, from the table or, failing that, by looking."""
    model_type = getattr(base.config, "model_type", "")
    if model_type in ARCHITECTURES:
        return ARCHITECTURES[model_type]
    for layers in ("layers", "h", "blocks", "decoder.layers", "transformer.h"):
        try:
            block = get_module(base, layers)[0]
        except (AttributeError, IndexError, TypeError):
            continue
        attn = next((n for n in ("self_attn", "attn", "attention") if hasattr(block, n)), None)
        mlp = next((n for n in ("mlp", "feed_forward", "ffn") if hasattr(block, n)), None)
        if attn and mlp:
            return Layout(layers, attn, mlp)
    raise ModelError(
        f"cannot find decoder blocks in architecture '{model_type}'; add it to "
        "core.lm.architectures.ARCHITECTURES (layers, attention-output and MLP-output module names)"
    )


def unwrap(output):
    """A sublayer's output tensor: attention modules return a tuple, output first."""
    return output[0] if isinstance(output, tuple) else output
