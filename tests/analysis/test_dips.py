"""Shared dips: calibration (false positives, power) and planted dips at a sink layer."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from core.analysis.dips import dip_depths, shared_dips, valley_at_sink
from tests.analysis.synthetic import _ar1, bump

ALPHA = 0.05


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


def _targets(rng, *, n_targets=10, n_layers=30, phi=0.0, sd=0.03, dip_at=None, depth=0.0):
    """Curves of several targets: each its own bump (centre, height) plus AR(1) noise."""
    centres = rng.uniform(8, 22, n_targets)
    heights = rng.uniform(0.15, 0.35, n_targets)
    curves = np.stack([bump(n_layers, c, 6.0, h) for c, h in zip(centres, heights)])
    noise = _ar1(rng, curves.shape, phi) if phi else rng.normal(size=curves.shape)
    curves = curves + sd * noise
    if dip_at is not None:
        curves[:, dip_at] -= depth
    return curves


def _rates(n: int, *, seed: int, phi: float, depth: float, n_targets: int = 10):
    """False-positive rate (any layer flagged, no dip) and power (layer 12 flagged)."""
    rng = np.random.default_rng(seed)
    false, hits = 0, 0
    for s in range(n):
        null = shared_dips(_targets(rng, phi=phi, n_targets=n_targets), n_sim=400, seed=s)
        false += bool(null["shared"].any())
        planted = _targets(rng, phi=phi, n_targets=n_targets, dip_at=12, depth=depth)
        found = shared_dips(planted, n_sim=400, seed=s)
        hits += bool(found.loc[found["layer"] == 12, "shared"].iloc[0])
    return false / n, hits / n


def test_one_shared_smooth_shape_is_not_a_dip():
    """Every target the same sharp bump (convex flanks), low noise: few false alarms.

    The worst case for this null (its bend is quartic, which the local quadratic does not
    absorb, and every target shares it): 6.5-8 % over seeds, so the bound is 9 %."""
    rng = np.random.default_rng(11)
    n, false = 200, 0
    for s in range(n):
        curves = np.stack([bump(30, 15, 3.0, 0.3)] * 10) + 0.01 * rng.normal(size=(10, 30))
        false += bool(shared_dips(curves, n_sim=400, seed=s)["shared"].any())
    print(
        f"\n| shared dip | identical bumps (width 3, noise 0.01), 10 targets | {n} | "
        f"{false / n:.1%} | - | - |"
    )
    assert false / n <= 0.09


@pytest.mark.parametrize(
    ("phi", "n_targets"),
    [(0.0, 10), (0.5, 10), (0.0, 4)],
)
def test_shared_dip_calibration(phi, n_targets):
    """Null: every target's own bump and noise, no shared dip; power: all targets drop by
    2.5 noise SDs at layer 12.  FWER over 28 interior layers at alpha 0.05."""
    n = 200
    fpr, power = _rates(
        n, seed=int(phi * 10) + n_targets, phi=phi, depth=0.075, n_targets=n_targets
    )
    print(
        f"\n| shared dip (any of 28 layers) | circular shift of each target's layer changes, "
        f"phi={phi}, {n_targets} targets | {n} | {fpr:.1%} | {power:.0%} | "
        "all targets -2.5 SD at layer 12 |"
    )
    assert fpr <= 0.075
    assert power >= (0.8 if n_targets >= 10 else 0.5)


def test_a_planted_shared_dip_at_a_sink_layer_is_flagged_there_only():
    rng = np.random.default_rng(7)
    curves = _targets(rng, dip_at=12, depth=0.15)
    table = shared_dips(curves, sink_layers=[12], n_sim=2000)
    flagged = table[table["shared"]]
    assert list(flagged["layer"]) == [12]
    assert bool(flagged["at_sink"].iloc[0])
    assert flagged["share"].iloc[0] >= 0.9
    assert valley_at_sink(12.0, [12]) and not valley_at_sink(11.0, [12])
    assert not valley_at_sink(float("nan"), [12])


def test_a_dip_in_one_target_only_is_not_shared():
    rng = np.random.default_rng(3)
    curves = _targets(rng)
    curves[0, 12] -= 0.5  # huge, but one curve of ten
    table = shared_dips(curves, n_sim=1000)
    assert not table["shared"].any()


def test_dip_depths_by_hand_and_too_few_targets():
    d = dip_depths(np.array([[1.0, 1.0, 0.0, 1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(d, [[1.0, -2 / 3]])
    # any quadratic has no dip anywhere: a bend is not a dip
    x = np.arange(10.0)
    np.testing.assert_allclose(dip_depths(0.3 + 0.1 * x - 0.02 * x**2), 0, atol=1e-12)
    assert shared_dips(np.zeros((2, 10))).empty
    assert shared_dips(np.zeros((5, 4))).empty
    layers = shared_dips(np.random.default_rng(0).normal(size=(5, 8)), n_sim=50)["layer"]
    assert list(layers) == [2, 3, 4, 5]
