"""Stimulus sets: schema, validation and lookup by name."""

from core.stimuli.registry import builtin_names, load, save_upload, upload_names
from core.stimuli.schema import StimulusError, StimulusSet, read_csv, validate

__all__ = [
    "StimulusError",
    "StimulusSet",
    "builtin_names",
    "load",
    "read_csv",
    "save_upload",
    "upload_names",
    "validate",
]
