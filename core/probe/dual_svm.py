"""Many linear SVMs on one kernel at once: the permutation nulls' solver.

Every (target, permutation) label column of a fold shares the fold's kernel matrix, so the
hinge-loss SVM dual (``SVC(kernel="linear", C)``, intercept included) is solved for all
columns together with matrix products instead of one libsvm call per column.

The dual of column ``t`` with labels ``y ∈ {-1, 0, +1}`` (0: a row the column leaves out,
as in a one-vs-one subproblem), written in ``β = y ∘ α``::

    min_β  ½ βᵀ K β − yᵀ β    s.t.  1ᵀβ = 0,  β_i ∈ [0, C] if y_i = +1,  [-C, 0] if y_i = -1,
                                     β_i = 0 if y_i = 0.

Only the linear term and the box change between columns; the quadratic part ``K`` and the
equality constraint are shared.  Douglas-Rachford splitting (ADMM) between the quadratic
with its equality constraint and the box then needs one shared matrix,
``(K + ρ I)⁻¹`` restricted to ``1ᵀβ = 0``, and one matrix product per iteration for all
columns.  Three things make it converge in tens of iterations on real activations:

- Jacobi scaling (``β = D γ``, ``D = diag(K)^-½``), as OSQP equilibrates its problems:
  rows of very different norms (attention outputs) otherwise slow it down several-fold;
- ρ at the median eigenvalue of the scaled kernel (scaled down for a rank-deficient
  kernel, where more stimuli than dimensions leave the data inseparable);
- Anderson acceleration (type II, 5 previous steps, safeguarded) of the fixed-point map,
  per column.

Each column stops on libsvm's own criterion, the maximal KKT violation
``max_{I_up} G − min_{I_low} G ≤ tol`` with ``G = y − K β`` (Fan, Chen & Lin 2005; the
``tol=1e-3`` of ``SVC``), screened at the splitting's other iterate (free to evaluate) and
confirmed, within ``EXACT_FACTOR · tol``, at the box-feasible point itself (one product
over the candidate columns only).  The intercept is libsvm's (mean of ``G`` over the free
support vectors).  A column still running at ``max_iter`` is reported as not converged,
and :func:`core.probe.solvers.svm_null_predictions` refits it with libsvm.  Measured on
permuted labels of real SmolLM2 activations, 99.99 % of held-out predictions equal
libsvm's (``tests/probe/test_dual_svm.py``).

Arrays may be NumPy arrays or torch tensors (any device); the solver keeps the type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEMORY = 5  # Anderson steps kept per column
CHECK_EVERY = 5  # iterations between convergence checks (and dropping converged columns)
EXACT_FACTOR = 50.0  # the exact check at p may be this much looser than the screen
MAX_COEF = 1e4  # Anderson coefficients beyond this are refused (safeguard)


class _Ops:
    """The few array operations the solver needs, for NumPy or torch."""

    def __init__(self, like):
        self.torch = type(like).__module__.startswith("torch")
        if self.torch:
            import torch

            self.xp = torch
            self.device = like.device
        else:
            self.xp = np
            self.device = None

    def asarray(self, x, dtype):
        if self.torch:
            return self.xp.as_tensor(x, device=self.device).to(dtype)
        return np.asarray(x, dtype=dtype)

    def dtype(self, name: str):
        return getattr(self.xp, name)

    def zeros(self, shape, dtype):
        if self.torch:
            return self.xp.zeros(shape, dtype=dtype, device=self.device)
        return np.zeros(shape, dtype=dtype)

    def amax(self, x, axis):
        return self.xp.amax(x, axis) if not self.torch else self.xp.amax(x, dim=axis)

    def amin(self, x, axis):
        return self.xp.amin(x, axis) if not self.torch else self.xp.amin(x, dim=axis)

    def numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy() if self.torch else np.asarray(x)

    def cast(self, x, dtype):
        return x.to(dtype) if self.torch else x.astype(dtype, copy=False)

    def eye(self, k: int, dtype):
        if self.torch:
            return self.xp.eye(k, dtype=dtype, device=self.device)
        return np.eye(k, dtype=dtype)

    def index(self, mask: np.ndarray):
        """A boolean NumPy mask usable on the solver's arrays."""
        return self.xp.as_tensor(mask, device=self.device) if self.torch else mask

    def clip_into(self, x, lo, hi, out) -> None:
        self.xp.maximum(x, lo, out=out)
        self.xp.minimum(out, hi, out=out)

    def combine(self, dF, coef):
        """Σ_j coef[:, j] dF[:, j]: (n, k, m) and (n, k, 1) to (n, m)."""
        cT = coef.transpose(1, 2) if self.torch else coef.transpose(0, 2, 1)
        return (cT @ dF)[:, 0, :]


@dataclass
class DualSolution:
    """Solved columns.

    Attributes
    ----------
    beta : ndarray of shape (n_columns, m)
        Signed dual coefficients ``y ∘ α``: the decision function is ``K(x, X) β + b``.
    bias : ndarray of shape (n_columns,)
    n_iter : ndarray of int, shape (n_columns,)
        Iterations each column ran.
    converged : ndarray of bool, shape (n_columns,)
        False where ``max_iter`` was reached before the tolerance.
    """

    beta: np.ndarray
    bias: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def _shared_operator(K, ops, dtype):
    """Jacobi scale ``d``, penalty ``ρ`` and ``(D K D + ρ I)⁻¹`` restricted to ``dᵀγ = 0``.

    Returns
    -------
    d : (m,) scale; Kd : (m, m) the scaled kernel; M : (m, m) the projected resolvent;
    Md : (m,) and dMd : float for the multiplier of the equality constraint; rho : float.
    """
    xp = ops.xp
    diag = K.diagonal()
    positive = diag > 0
    d = xp.where(positive, 1.0 / xp.sqrt(xp.where(positive, diag, 1.0)), 1.0 + 0 * diag)
    Kd = K * d[:, None] * d[None, :]
    lam = ops.numpy(xp.linalg.eigvalsh(Kd)).astype(np.float64)
    # the median of the kernel's own spectrum; a rank-deficient kernel (more rows than
    # features: the data are not separable and many α sit at C) converges far faster with
    # a smaller ρ, here scaled by (rank / m)³, which is 1 for the separable case.  The cube,
    # not the square: on SmolLM2's half-stimulus poolings, whose rows repeat (pairs mean_x,
    # analogies mean_ab: rank about m / 2), it cut the mean iterations 243 → 114 and
    # 353 → 128 and left no column to libsvm (19-28 a fold did, at ~0.3 s each), while
    # full-rank kernels keep their ρ and features subsampled below m moved 130 → 137, 119 → 102
    positive = lam[lam > 1e-9 * max(lam.max(), 0.0)]
    rank_share = (len(positive) + 1) / len(lam)  # + 1: the centring direction
    rho = float(np.median(positive)) * min(1.0, rank_share) ** 3 if len(positive) else 1.0
    eye = xp.eye(K.shape[0], dtype=K.dtype, **({"device": ops.device} if ops.torch else {}))
    Mt = xp.linalg.inv(Kd + rho * eye)
    Mt = (Mt + Mt.T) / 2
    Md = Mt @ d
    dMd = float(d @ Md)
    M = Mt - (Md[:, None] * Md[None, :]) / dMd
    return ops.cast(d, dtype), ops.cast(Kd, dtype), M, Md, dMd, rho


def solve(
    K,
    Y,
    *,
    C: float = 1.0,
    tol: float = 1e-3,
    max_iter: int = 1000,
    dtype: str = "float32",
) -> DualSolution:
    """Solve the SVM dual for every label column of ``Y`` on the kernel ``K``.

    Parameters
    ----------
    K : array of shape (m, m)
        Kernel of the training rows (here the Gram matrix of fold-standardised features).
    Y : array of shape (n_columns, m)
        Labels in {-1, 0, +1}; 0 leaves a row out of that column's problem.
    C : float, default=1.0
        Box constraint of the soft-margin SVM (``SVC(C=...)``).
    tol : float, default=1e-3
        libsvm's stopping tolerance on the maximal KKT violation.
    max_iter : int, default=1000
    dtype : {"float32", "float64"}, default="float32"
        Precision of the iterations; the shared operator is built in float64.

    Returns
    -------
    DualSolution
        ``beta`` of shape (n_columns, m) and ``bias`` of shape (n_columns,), as NumPy arrays.
    """
    ops = _Ops(K)
    work = ops.dtype(dtype)
    K64 = ops.asarray(K, ops.dtype("float64"))
    Y64 = ops.asarray(Y, ops.dtype("float64"))
    n_cols, m = Y64.shape
    d, Kd, M, Md, dMd, rho = _shared_operator(K64, ops, work)
    M, Md = ops.cast(M, work), ops.cast(Md, work)
    state = _State(ops, ops.cast(Y64, work), d, C, work)
    out_beta = np.zeros((n_cols, m))
    out_iter = np.full(n_cols, max_iter)
    converged = np.zeros(n_cols, dtype=bool)
    active = np.arange(n_cols)
    for it in range(1, max_iter + 1):
        p, r, gamma = state.step(M, rho)
        if it % CHECK_EVERY and it != max_iter:
            continue
        done = _kkt_done(ops, r, gamma, p, state, Kd, d, Md, dMd, rho, tol)
        finished = np.ones(len(active), dtype=bool) if it == max_iter else done
        if not finished.any():
            continue
        out_beta[active[finished]] = state.beta(p, finished)
        out_iter[active[finished]] = it
        converged[active[finished]] = done[finished]
        if finished.all():
            break
        active = active[~finished]
        state.keep(~finished)
    finite = np.isfinite(out_beta).all(axis=1)
    out_beta[~finite] = 0.0
    converged &= finite
    bias = _bias(ops.numpy(K64), out_beta, ops.numpy(Y64), C)
    return DualSolution(beta=out_beta, bias=bias, n_iter=out_iter, converged=converged)


class _State:
    """Douglas-Rachford iterate ``w`` of the active columns, with its Anderson history.

    Everything is (n_columns, m), one row per column, so dropping converged columns is a
    row selection and the shared product is ``r @ M``.
    """

    def __init__(self, ops: _Ops, Y, d, C: float, work):
        xp = ops.xp
        self.ops, self.C = ops, C
        n, m = Y.shape
        self.Y = Y
        self.Yg = Y * d[None, :]  # the linear term in γ = β / d
        zero = 0 * Y
        self.lo = xp.where(Y < 0, zero - C / d[None, :], zero)
        self.hi = xp.where(Y > 0, zero + C / d[None, :], zero)
        self.d = d
        self.w = ops.zeros((n, m), work)
        self.p = ops.zeros((n, m), work)
        self.r = ops.zeros((n, m), work)
        self.dG = ops.zeros((n, MEMORY, m), work)  # differences of residuals g
        self.dF = ops.zeros((n, MEMORY, m), work)  # differences of F(w) = w + g
        self.gram = ops.zeros((n, MEMORY, MEMORY), ops.dtype("float64"))
        self.g_prev = self.f_prev = None
        self.n_hist = self.slot = 0

    def step(self, M, rho: float):
        """One Anderson-accelerated Douglas-Rachford step; returns (p, r, γ) of this step."""
        ops = self.ops
        p, r, w = self.p, self.r, self.w
        ops.clip_into(w, self.lo, self.hi, p)  # the box projection
        r[...] = p
        r *= 2
        r -= w
        r *= rho
        r += self.Yg
        gamma = r @ M  # the quadratic with its equality constraint (M symmetric)
        g = gamma - p  # fixed-point residual: F(w) = w + g
        f = w + g
        dg = None
        if self.g_prev is not None:
            s = self.slot
            dg = g - self.g_prev
            self.dG[:, s] = dg
            self.dF[:, s] = f - self.f_prev
            self.n_hist = min(self.n_hist + 1, MEMORY)
        self.w = f - self._anderson(g, dg) if self.n_hist else f
        self.g_prev, self.f_prev = g, f
        return p, r, gamma

    def _anderson(self, g, dg):
        """The Anderson correction ``ΔF c`` with ``c = argmin ‖g − ΔG c‖`` per column.

        Safeguarded: a column whose coefficients are not finite or exceed ``MAX_COEF``
        (a near-singular history, as on rank-deficient kernels) takes the plain step and
        starts its history afresh.
        """
        ops, xp = self.ops, self.ops.xp
        f64 = ops.dtype("float64")
        k, s = self.n_hist, self.slot
        dG, dF = self.dG[:, :k], self.dF[:, :k]
        row = ops.cast(ops.xp.einsum("nkm,nm->nk", dG, dg), f64)
        rhs = ops.cast(ops.xp.einsum("nkm,nm->nk", dG, g), f64)
        self.gram[:, s, :k] = row
        self.gram[:, :k, s] = row
        A = self.gram[:, :k, :k]
        scale = A.diagonal(0, 1, 2).sum(1)
        A = A + (1e-10 * scale + 1e-300)[:, None, None] * ops.eye(k, f64)
        coef = xp.linalg.solve(A, rhs[:, :, None])  # (n, k, 1)
        size = xp.abs(coef).sum((1, 2))
        bad = ~xp.isfinite(size) | (size > MAX_COEF)
        self.slot = (s + 1) % MEMORY
        if bad.any():
            coef = xp.where(bad[:, None, None], 0 * coef, coef)
            coef = xp.where(xp.isfinite(coef), coef, 0 * coef)
            self.dG[bad] = 0
            self.dF[bad] = 0
            self.gram[bad] = 0
        return ops.combine(dF, ops.cast(coef, g.dtype))

    def beta(self, p, rows: np.ndarray) -> np.ndarray:
        """β = d ∘ γ of finished columns, exactly on the box where γ sits on it."""
        xp, C = self.ops.xp, self.C
        idx = self.ops.index(rows)
        pr, y = p[idx], self.Y[idx]
        beta = pr * self.d[None, :]
        beta = xp.where((y > 0) & (pr >= self.hi[idx]), 0 * beta + C, beta)
        beta = xp.where((y < 0) & (pr <= self.lo[idx]), 0 * beta - C, beta)
        beta = xp.where(y == 0, 0 * beta, beta)
        return self.ops.numpy(beta).astype(np.float64)

    def keep(self, rows: np.ndarray) -> None:
        """Drop converged columns."""
        idx = self.ops.index(rows)
        for name in ("Y", "Yg", "lo", "hi", "w", "p", "r", "dG", "dF", "gram"):
            setattr(self, name, getattr(self, name)[idx])
        for name in ("g_prev", "f_prev"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value[idx])


def _violation(ops, G, p, lo, hi):
    """libsvm's maximal KKT violation ``max_{I_up} G − min_{I_low} G`` per column.

    In γ the index sets are plain comparisons with the box (``p`` comes from the clip, so
    it sits on a bound exactly): ``α < C`` for ``y = +1`` and ``α > 0`` for ``y = -1`` are
    both ``p < hi`` (``hi`` is ``C/d`` or 0), and likewise ``p > lo`` for ``I_low``; rows a
    column leaves out have ``lo = hi = p = 0`` and fall in neither.
    """
    xp = ops.xp
    inf = float("inf")
    top = ops.amax(xp.where(p < hi, G, 0 * G - inf), 1)
    bottom = ops.amin(xp.where(p > lo, G, 0 * G + inf), 1)
    return ops.numpy(top - bottom)


def _kkt_done(ops, r, gamma, p, state: _State, Kd, d, Md, dMd, rho, tol) -> np.ndarray:
    """libsvm's stopping rule per column, at the box-feasible point ``p``.

    A cheap screen first: ``(D K D + ρ I) γ = r − ν d`` gives ``K β`` at the splitting's
    other iterate ``γ`` without a product.  Columns that pass it are checked exactly, with
    ``K β`` at ``p`` itself (one product over those columns only).
    """
    nu = (r @ Md) / dMd
    Kbeta = r - rho * gamma
    Kbeta /= d[None, :]
    Kbeta -= nu[:, None]
    done = _violation(ops, state.Y - Kbeta, p, state.lo, state.hi) <= tol
    if done.any():
        rows = ops.index(done)
        Kp = (p[rows] @ Kd) / d[None, :]  # K β at p, β = d ∘ p
        G = state.Y[rows] - Kp
        exact = _violation(ops, G, p[rows], state.lo[rows], state.hi[rows])
        done[np.flatnonzero(done)] = exact <= EXACT_FACTOR * tol
    return done


def _bias(K: np.ndarray, beta: np.ndarray, Y: np.ndarray, C: float) -> np.ndarray:
    """libsvm's intercept: the mean of ``G = y − Kβ`` over free support vectors.

    Without free support vectors, the middle of the feasible interval, as libsvm.
    """
    G = Y - beta @ K
    alpha = beta * Y  # exactly 0 or C on the bounds (see solve)
    free = (Y != 0) & (alpha > 0) & (alpha < C)
    up = ((Y > 0) & (alpha < C)) | ((Y < 0) & (alpha > 0))
    low = ((Y < 0) & (alpha < C)) | ((Y > 0) & (alpha > 0))
    with np.errstate(invalid="ignore"):
        top = np.where(up, G, -np.inf).max(axis=1)
        bottom = np.where(low, G, np.inf).min(axis=1)
        middle = (top + bottom) / 2
        n_free = free.sum(axis=1)
        mean_free = (G * free).sum(axis=1) / np.maximum(n_free, 1)
    return np.where(n_free > 0, mean_free, np.nan_to_num(middle))
