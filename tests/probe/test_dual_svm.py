"""The batched SVM solver of the permutation nulls against libsvm, and torch against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

from core.lm import extract
from core.probe import label_permutations, outer_folds, solvers
from core.probe.dual_svm import solve
from tests.helpers import items_subset


@pytest.fixture(scope="module")
def items240(smollm2):
    stimuli = items_subset(240)
    return stimuli, extract(smollm2, stimuli, poolings=("mean",))["mean"]


def _agreement(stimuli, acts, cells, n_perm: int) -> tuple[float, float, int]:
    """Held-out predictions of the batched solver vs SVC on permuted labels of every class
    target, every fold: (agreement, largest decision difference, predictions compared)."""
    fold = outer_folds(stimuli.groups)
    perms = label_permutations(stimuli.groups, n_permutations=n_perm, seed=1)
    targets = [t for t, k in stimuli.targets.items() if k != "continuous"]
    same, total, worst = 0, 0, 0.0
    for component, layer in cells:
        X = acts[component][:, layer]
        for k in range(6):
            train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            G = solvers.standardized_gram(X, train)
            labels = np.column_stack([stimuli.labels(t)[perms].T for t in targets])
            ours = solvers.svm_null_predictions(G, train, test, labels)
            for j in range(labels.shape[1]):
                if len(np.unique(labels[train, j])) < 2:
                    continue
                model = SVC(kernel="precomputed").fit(G[np.ix_(train, train)], labels[train, j])
                theirs = model.predict(G[np.ix_(test, train)])
                same += int((ours[:, j] == theirs).sum())
                total += len(test)
            # decision values of the binary problems against libsvm's
            Y = labels[train].T[:3] * 2.0 - 1.0 if labels.max() == 1 else None
            if Y is not None:
                sol = solve(G[np.ix_(train, train)], Y)
                ours_dec = G[np.ix_(test, train)] @ sol.beta.T + sol.bias
                for j in range(len(Y)):
                    model = SVC(kernel="precomputed").fit(G[np.ix_(train, train)], Y[j])
                    theirs_dec = model.decision_function(G[np.ix_(test, train)])
                    worst = max(worst, float(np.abs(ours_dec[:, j] - theirs_dec).max()))
    return same / total, worst, total


@pytest.mark.slow
def test_null_predictions_agree_with_libsvm_on_real_activations(items240, real_pairs):
    cells = [("resid_pre", 3), ("attn_out", 14), ("attn_out", 27), ("mlp_out", 25)]
    agreement, worst, total = _agreement(*items240, cells, n_perm=12)
    print(
        f"items (240, binary): agreement {agreement:.4%} of {total} held-out predictions; "
        f"largest decision difference {worst:.3g}"
    )
    assert agreement >= 0.995
    agreement, _, total = _agreement(*real_pairs, cells, n_perm=12)
    print(f"pairs (64, binary and 4 classes): agreement {agreement:.4%} of {total}")
    assert agreement >= 0.995


def _problem(seed: int, *, n: int = 80, d: int = 120, low_rank: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if low_rank:  # few strong directions: C binds, as on attention outputs
        X = X[:, :8] @ rng.normal(size=(8, d)) * 3 + 0.05 * X
    train = np.arange(n - 20)
    G = solvers.standardized_gram(X, train)
    Y = rng.choice([-1.0, 1.0], size=(30, len(train)))
    return G, train, np.arange(n - 20, n), Y


@pytest.mark.parametrize("low_rank", [False, True])
def test_batched_decisions_match_libsvm_to_its_tolerance(low_rank):
    """Full-rank kernels (d > n, as real activations) converge; a kernel of rank 9 with
    C binding may not in ``max_iter``, and says so: those columns go to libsvm."""
    G, train, test, Y = _problem(0, low_rank=low_rank)
    K = G[np.ix_(train, train)]
    sol = solve(K, Y, max_iter=300)
    if not low_rank:
        assert sol.converged.all()
    ours = G[np.ix_(test, train)] @ sol.beta.T + sol.bias
    worst, flips = 0.0, 0
    for j in np.flatnonzero(sol.converged):
        model = SVC(kernel="precomputed", tol=1e-6).fit(K, Y[j])
        theirs = model.decision_function(G[np.ix_(test, train)])
        worst = max(worst, float(np.abs(ours[:, j] - theirs).max()))
        flips += int((np.sign(ours[:, j]) != np.sign(theirs)).sum())
    print(
        f"low_rank={low_rank}: {sol.converged.mean():.0%} converged, largest decision "
        f"difference {worst:.3g}, {flips} flips"
    )
    assert worst < 0.1 and flips <= 1
    # what did not converge is fitted by libsvm: the predictions are SVC's
    labels = (Y.T > 0).astype(np.int64)
    full = np.zeros((len(G), Y.shape[0]), dtype=np.int64)
    full[train] = labels
    pred = solvers.svm_null_predictions(G, train, test, full)
    same = []
    for j in range(Y.shape[0]):
        model = SVC(kernel="precomputed").fit(K, labels[:, j])
        same.append(pred[:, j] == model.predict(G[np.ix_(test, train)]))
    print(f"    predictions equal to SVC's: {np.mean(same):.2%}")
    assert np.mean(same) >= (0.995 if not low_rank else 0.98)


def test_torch_cpu_equals_numpy():
    torch = pytest.importorskip("torch")
    G, train, _, Y = _problem(2)
    K = G[np.ix_(train, train)]
    ours = solve(K, Y)
    theirs = solve(torch.as_tensor(K), torch.as_tensor(Y))
    np.testing.assert_array_equal(ours.n_iter, theirs.n_iter)
    np.testing.assert_allclose(ours.beta, theirs.beta, atol=1e-4)
    np.testing.assert_allclose(ours.bias, theirs.bias, atol=1e-4)
    G2, train2, test2, _ = _problem(3)
    labels = np.random.default_rng(4).integers(0, 3, size=(len(G2), 20))
    numpy_pred = solvers.svm_null_predictions(G2, train2, test2, labels)
    torch_pred = solvers.svm_null_predictions(G2, train2, test2, labels, device="cpu")
    assert (numpy_pred == torch_pred).mean() > 0.99
