"""The plain scikit-learn way, fold by fold: the definition the fast solvers must equal.

Used by the equality tests and by ``bench/probes.py`` as the naive baseline.
"""

from __future__ import annotations

from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def svm_fold(X, y, train, test, *, C: float = 1.0):
    """Standardise on the training rows, fit a linear SVC, return test decisions and labels."""
    model = make_pipeline(StandardScaler(), SVC(kernel="linear", C=C))
    model.fit(X[train], y[train])
    return model.decision_function(X[test]), model.predict(X[test])


def ridge_fold(X, y, groups, train, test, *, alphas, n_inner: int = 5):
    """Standardise, choose alpha by inner grouped CV on R², refit, predict the test rows."""
    search = GridSearchCV(
        Ridge(), {"alpha": list(alphas)}, cv=GroupKFold(n_splits=n_inner), scoring="r2"
    )
    model = make_pipeline(StandardScaler(), search)
    model.fit(X[train], y[train], gridsearchcv__groups=groups[train])
    return model.predict(X[test]), float(model[-1].best_params_["alpha"])
