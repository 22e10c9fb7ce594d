"""Language models: names and fingerprints, loading, tokens and pooling, extraction hooks.

- ``specs``: what a user's model name resolves to
- ``identity``: the fingerprint that keys cached activations, known without loading
- ``architectures``: where each architecture keeps its blocks and sublayer outputs
- ``loading``: the base model (no LM head) and tokenizer, GGUF conversion, memory check
- ``tokens``: token ids and pooling weights per text; length-sorted batches
- ``extract``: one forward pass per batch, hooks reducing every layer to pooled vectors
- ``nnsight_backend``: the same modules traced with nnsight, locally or on NDIF
"""

from core.embedded import ALIASES, DEFAULT_MODEL, SECOND_MODEL
from core.errors import ModelError
from core.lm.extract import extract, hooks
from core.lm.identity import DTYPES, QUANTIZATIONS, ModelId, ModelInfo, identify
from core.lm.loading import LoadedModel, load
from core.lm.specs import describe, resolve
from core.lm.tokens import ExtractionError, TokenPlan, batches, plan_tokens

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "DTYPES",
    "QUANTIZATIONS",
    "SECOND_MODEL",
    "ExtractionError",
    "LoadedModel",
    "ModelError",
    "ModelId",
    "ModelInfo",
    "TokenPlan",
    "batches",
    "describe",
    "extract",
    "hooks",
    "identify",
    "load",
    "plan_tokens",
    "resolve",
]
