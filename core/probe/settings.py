"""What determines probe scores: one validated record, from the Run page or CLI to the solver."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

import numpy as np

from core.errors import ConfigError

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-1, 7, 9))
DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


@dataclass(frozen=True)
class ProbeSettings:
    """Everything that determines probe scores, recorded with every run.

    Attributes
    ----------
    folds : int, default=6
        Grouped outer CV folds (the paper's 6).
    seed : int, default=0
        Fixes folds, permutations and halves.
    C : float, default=1.0
        SVM regularisation (the paper's linear SVM, C=1).
    alphas : tuple of float
        Ridge grid; alpha is chosen per target by inner grouped CV.
    inner_folds : int, default=5
        Inner folds for choosing alpha.
    permutations : int, default=100
        Null labellings (:mod:`core.probe.permutations`) refitted at every layer for every
        target, SVM and ridge alike; each cell's p-value comes from its own permutations,
        so the smallest possible p is ``1 / (1 + permutations)``.
    half_splits : int, default=1
        Random halvings of the groups for split-half statistics (0 = none).
    device : str, default="cpu"
        Where the permutation nulls' SVMs are solved: ``"cpu"`` (NumPy) or a torch device
        (``"cuda"``, ``"cuda:1"``, ``"mps"``).
    """

    folds: int = 6
    seed: int = 0
    C: float = 1.0
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    inner_folds: int = 5
    permutations: int = 100
    half_splits: int = 1
    device: str = "cpu"

    def __post_init__(self):
        checks = [
            (self.folds >= 2, f"folds={self.folds}: cross-validation needs at least 2 folds"),
            (self.C > 0, f"C={self.C}: the SVM's C must be positive"),
            (len(self.alphas) > 0 and min(self.alphas) > 0, "ridge alphas must be positive"),
            (
                self.inner_folds >= 2,
                f"inner_folds={self.inner_folds}: choosing alpha needs 2 inner folds",
            ),
            (
                self.permutations >= 0,
                f"permutations={self.permutations} cannot be negative",
            ),
            (self.half_splits >= 0, f"half_splits={self.half_splits} cannot be negative"),
            (self.seed >= 0, f"seed={self.seed}: use a seed of 0 or more"),
            (
                bool(DEVICE_PATTERN.match(self.device)),
                f"device '{self.device}' is not one of cpu, cuda, cuda:N, mps",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if self.device != "cpu":
            _check_device(self.device)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["alphas"] = list(self.alphas)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ProbeSettings:
        """Inverse of :meth:`to_dict`; an unknown setting is refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown probe setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "alphas" in values:
            values["alphas"] = tuple(float(a) for a in values["alphas"])
        return cls(**values)


def _check_device(device: str) -> None:
    """Refuse a torch device this machine does not have, before any work."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ConfigError(
                f"device '{device}' is not available here (torch sees "
                f"{torch.cuda.device_count()} CUDA devices); use --device cpu"
            )
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' is not available here; use --device cpu")
