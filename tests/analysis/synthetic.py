"""Synthetic layer curves with known answers, shaped like ``probe_scores`` and ``fold_scores``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_curve(
    mean: np.ndarray,
    *,
    se: float = 0.01,
    n_folds: int = 6,
    seed: int = 0,
    target: str = "t",
    model: str = "m",
    stimulus_set: str = "items",
    chance=0.5,
):
    """probe_scores and fold_scores rows of one curve with the given true profile."""
    rng = np.random.default_rng(seed)
    n_layers = len(mean)
    folds = mean + rng.normal(0, se * np.sqrt(n_folds), size=(n_folds, n_layers))
    keys = dict(
        model=model,
        stimulus_set=stimulus_set,
        pooling="mean",
        target=target,
        component="attn_out",
        metric="balanced_accuracy",
    )
    scores = pd.DataFrame(
        {
            **keys,
            "layer": np.arange(n_layers),
            "n_layers": n_layers,
            "score": folds.mean(0),
            "score_se": folds.std(0, ddof=1) / np.sqrt(n_folds),
            "chance": chance,
            "is_primary": True,
        }
    )
    fold_rows = pd.DataFrame(
        [
            {**keys, "layer": layer, "fold": f, "score": folds[f, layer]}
            for f in range(n_folds)
            for layer in range(n_layers)
        ]
    )
    return scores, fold_rows


def bump(n, centre, width, height=0.3, base=0.5):
    x = np.arange(n)
    return base + height * np.exp(-((x - centre) ** 2) / (2 * width**2))


def group_noise(
    rng: np.random.Generator,
    shape: tuple[int, int, int, int],
    *,
    phi: float = 0.0,
    target_corr: float = 0.0,
) -> np.ndarray:
    """Unit-variance noise (n_sims, n_groups, n_targets, n_layers), AR(1) over layers.

    ``phi`` is the lag-1 autocorrelation over layers (adjacent layers' probes err alike);
    ``target_corr`` the correlation between targets (they share stimuli and activations).
    """
    n_sims, n_groups, _, n_layers = shape
    z = np.sqrt(target_corr) * rng.normal(size=(n_sims, n_groups, 1, n_layers))
    z = z + np.sqrt(1 - target_corr) * rng.normal(size=shape)
    out = np.empty(shape)
    out[..., 0] = z[..., 0]
    for layer in range(1, n_layers):
        out[..., layer] = phi * out[..., layer - 1] + np.sqrt(1 - phi**2) * z[..., layer]
    return out


def simulate_run(
    rng: np.random.Generator,
    truth: np.ndarray,
    *,
    n_sims: int,
    n_groups: int = 48,
    n_folds: int = 6,
    n_splits: int = 1,
    sd: float = 0.02,
    phi: float = 0.0,
    target_corr: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold scores and half curves of ``n_sims`` runs from one group-level noise.

    Each stimulus group carries its own noise (:func:`group_noise`).  A fold's score is the
    truth (n_targets, n_layers) plus the mean noise of its groups; a split halves the groups
    at random and each half's curve is the truth plus the mean noise of its groups, scaled
    so that one half's noise has SD ``sd``.  Splits overlap as real ones do, and the fold
    noise and the half noise share their structure over layers and targets.

    Returns ``folds`` (n_sims, n_folds, n_targets, n_layers) and ``halves`` (n_sims,
    n_splits, 2, n_targets, n_layers).
    """
    truth = np.atleast_2d(truth)
    n_targets, n_layers = truth.shape
    u = group_noise(rng, (n_sims, n_groups, n_targets, n_layers), phi=phi, target_corr=target_corr)
    k = n_groups // 2
    scale = sd * np.sqrt(k)  # one half's noise has SD sd
    fold_of = np.arange(n_groups) % n_folds
    folds = np.stack([u[:, fold_of == f].mean(axis=1) for f in range(n_folds)], axis=1)
    order = np.argsort(rng.random((n_sims, n_splits, n_groups)), axis=-1)
    in_a = order < k
    a = np.einsum("nsg,ngtl->nstl", in_a, u) / k
    b = np.einsum("nsg,ngtl->nstl", ~in_a, u) / (n_groups - k)
    return truth + scale * folds, truth + scale * np.stack([a, b], axis=2)


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """Unit-variance AR(1) noise along the last axis."""
    z = rng.normal(size=shape)
    out = np.empty(shape)
    out[..., 0] = z[..., 0]
    for k in range(1, shape[-1]):
        out[..., k] = phi * out[..., k - 1] + np.sqrt(1 - phi**2) * z[..., k]
    return out


def simulate_predictions(
    rng: np.random.Generator,
    accuracy: np.ndarray,
    *,
    n_groups: int = 60,
    per_group: int = 8,
    phi: float = 0.8,
    group_share: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out binary predictions of a set whose true accuracy per layer is known.

    Each stimulus has a latent difficulty per layer, AR(1) over layers (``phi``: a stimulus
    wrong at one layer tends to be wrong at the next) and shared in part by its group
    (``group_share``); it is classified correctly where the difficulty is below
    ``Φ⁻¹(accuracy)``, so each layer's expected (balanced) accuracy is ``accuracy``.

    Parameters
    ----------
    accuracy : array of shape (n_targets, n_layers)

    Returns
    -------
    y_true : array of shape (n_targets, n_items), labels 0/1
    y_pred : array of shape (n_targets, n_items, n_layers)
    group : array of shape (n_items,)
    """
    from scipy.stats import norm

    accuracy = np.atleast_2d(accuracy)
    n_targets, n_layers = accuracy.shape
    group = np.repeat(np.arange(n_groups), per_group)
    shared = _ar1(rng, (n_targets, n_groups, n_layers), phi)[:, group]
    own = _ar1(rng, (n_targets, len(group), n_layers), phi)
    latent = np.sqrt(group_share) * shared + np.sqrt(1 - group_share) * own
    correct = latent < norm.ppf(accuracy)[:, None, :]
    y_true = rng.integers(0, 2, size=(n_targets, len(group)))
    y_pred = np.where(correct, y_true[..., None], 1 - y_true[..., None])
    return y_true, y_pred, group


def prediction_rows(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    group: np.ndarray,
    *,
    stimulus_set: str = "items",
    n_folds: int = 6,
    model: str = "m",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``item_predictions`` and ``folds`` rows (DESIGN.md contract 6) for simulated predictions."""
    n_targets, n_items, n_layers = y_pred.shape
    ids = np.array([f"{stimulus_set}-{i}" for i in range(n_items)])
    fold = group % n_folds
    t, i, layer = np.meshgrid(
        np.arange(n_targets), np.arange(n_items), np.arange(n_layers), indexing="ij"
    )
    predictions = pd.DataFrame(
        {
            "model": model,
            "stimulus_set": stimulus_set,
            "pooling": "mean",
            "target": np.array([f"t{k}" for k in range(n_targets)])[t.ravel()],
            "component": "attn_out",
            "layer": layer.ravel(),
            "item_id": ids[i.ravel()],
            "fold": fold[i.ravel()],
            "y_true": y_true[t.ravel(), i.ravel()].astype(float),
            "y_pred": y_pred.ravel().astype(float),
            "decision": np.where(y_pred.ravel() == 1, 1.0, -1.0),
        }
    )
    folds = pd.DataFrame(
        {
            "model": model,
            "stimulus_set": stimulus_set,
            "pooling": "mean",
            "item_id": ids,
            "group": [f"g{g}" for g in group],
            "fold": fold,
        }
    )
    return predictions, folds
