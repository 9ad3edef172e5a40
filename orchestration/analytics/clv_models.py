"""Customer-lifetime-value probability models (sBG, BG/NBD, Gamma-Gamma).

A small, dependency-light library: numpy / scipy / pandas in, numpy / pandas
out.  It deliberately knows nothing about Dagster, dbt or the warehouse
database; the orchestration layer feeds it arrays or DataFrames and stores the
returned (frozen) fit objects and predictions.

Models and the papers they follow
---------------------------------
* **sBG** -- shifted-beta-geometric model of contract duration for
  *contractual* (subscription) settings:

  - [FH07] Fader, P. S. & Hardie, B. G. S. (2007), "How to Project Customer
    Retention", *Journal of Interactive Marketing* 21(1), 76-90
    (likelihood eq. B3 / appendix; P(T=t), S(t) and r_t are eqs. 5-8).
  - [FH10] Fader, P. S. & Hardie, B. G. S. (2010), "Customer-Base Valuation
    in a Contractual Setting: The Perils of Ignoring Heterogeneity",
    *Marketing Science* 29(1), 85-93 (discounted expected residual lifetime,
    DERL).

* **BG/NBD** -- beta-geometric / negative-binomial model of repeat
  purchasing for *non-contractual* settings:

  - [FHL05a] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting
    Your Customers' the Easy Way: An Alternative to the Pareto/NBD Model",
    *Marketing Science* 24(2), 275-284 (E[X(t)] eq. 9, conditional
    expectation eq. 10).
  - [N004] Fader, Hardie & Lee (2005), "Implementing the BG/NBD Model for
    Customer Base Analysis in Excel", http://brucehardie.com/notes/004/
    (log-likelihood LL_i = ln A1 + ln A2 + ln(A3 + delta(x>0) A4)).
  - [N021] Fader, Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD
    Model", http://brucehardie.com/notes/021/.

* **Gamma-Gamma** -- spend per transaction:

  - [FHL05b] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and
    CLV: Using Iso-Value Curves for Customer Base Analysis", *Journal of
    Marketing Research* 42(4), 415-430.
  - [N025] Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
    http://brucehardie.com/notes/025/ (likelihood eq. 1a, conditional mean
    eq. 5).

Conventions
-----------
All likelihoods are evaluated in log space (``scipy.special.gammaln`` /
``betaln`` / ``np.logaddexp``) and maximised over the *logarithms* of the
parameters with L-BFGS-B, analytic gradients and box bounds
``[1e-6, 1e6]`` on every parameter.  A fit whose optimum sits on a bound is
returned with ``converged=False`` and an explanatory ``message`` (e.g. an sBG
fit of a homogeneous cohort, whose MLE is at alpha, beta -> infinity).

Customer-level inputs accept ``weights`` (counts of identical rows), so that a
million customers can be compressed to their unique ``(x, t_x, T)`` triples --
:func:`compress_rfm` does this and the fitting functions do it internally.

RFM variables follow the ``lifetimes`` package (Davidson-Pilon et al.):
``frequency`` = number of *repeat* purchase periods, ``recency`` = time from
the first to the last purchase, ``T`` = time from the first purchase to the
end of observation, ``monetary_value`` = mean value of the repeat purchase
periods (0 for one-off buyers), all in units of the summary period.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Union

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special

__all__ = [
    "BGNBDFit",
    "GammaGammaFit",
    "SBGFit",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_expected_purchases",
    "bgnbd_gg_clv",
    "bgnbd_log_likelihood",
    "bgnbd_probability_alive",
    "compress_rfm",
    "fit_bgnbd",
    "fit_bgnbd_rfm",
    "fit_gamma_gamma",
    "fit_gamma_gamma_rfm",
    "fit_sbg",
    "fit_sbg_cohorts",
    "gamma_gamma_conditional_expected_average_value",
    "gamma_gamma_log_likelihood",
    "rfm_summary",
    "sbg_churn_probability",
    "sbg_discounted_expected_residual_lifetime",
    "sbg_expected_discounted_periods",
    "sbg_log_likelihood",
    "sbg_retention_rate",
    "sbg_survival",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Scalar in -> ``float`` out; array in -> ``FloatArray`` out.
FloatOrArray = Union[float, FloatArray]

_PARAM_MIN: Final[float] = 1e-6
_PARAM_MAX: Final[float] = 1e6
_LOG_LO: Final[float] = math.log(_PARAM_MIN)
_LOG_HI: Final[float] = math.log(_PARAM_MAX)
#: Minimum number of repeat buyers for a Gamma-Gamma fit (3 parameters).
GAMMA_GAMMA_MIN_CUSTOMERS: Final[int] = 10
#: sBG fits with alpha + beta above this are reported as the (non-converged) geometric limit.
_SBG_HOMOGENEOUS: Final[float] = 1e4
#: Above this many rows the prediction helpers evaluate on unique rows only.
_COMPRESS_THRESHOLD: Final[int] = 20_000


# --------------------------------------------------------------------------- #
# shared helpers
# --------------------------------------------------------------------------- #
def _as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    """``values`` as a finite float64 array, with a clear error otherwise."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_1d(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = _as_float_array(values, name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_positive(**params: float) -> None:
    for key, value in params.items():
        if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{key} must be a positive finite number, got {value!r}")


def _check_integer_valued(arr: FloatArray, name: str) -> None:
    if np.any(arr != np.round(arr)):
        bad = arr[arr != np.round(arr)][0]
        raise ValueError(f"{name} must be integer-valued, got {bad!r}")


def _check_non_negative(arr: FloatArray, name: str) -> None:
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {arr[arr < 0][0]!r}")


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product computed by numpy itself rather than BLAS.

    ``a @ b`` on long vectors goes to OpenBLAS, which multi-threads above ~10k
    elements; on a small machine whose cores are busy those threads contend and
    a 20k-element product was measured ~100x slower.  ``einsum`` does not use BLAS here.
    """
    return float(np.einsum("i,i->", a, b))


def _out(arr: FloatArray, scalar: bool) -> FloatOrArray:
    return float(arr.reshape(-1)[0]) if scalar else arr


def _compress(columns: Sequence[FloatArray], weights: FloatArray | None) -> tuple[list[FloatArray], FloatArray, IntArray]:
    """Group identical rows of ``columns``.

    Returns the unique rows (one array per column), the summed weights of each
    unique row (row counts when ``weights`` is None) and the inverse index that
    maps every input row to its unique row.  Uses hashing (``pd.factorize``), so
    it is O(n) and fast enough for millions of rows.
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for col in columns:
        codes, uniques = pd.factorize(col)
        k = max(len(uniques), 1)
        if radix * k >= 2**62:  # pragma: no cover - astronomically many distinct values
            stacked = np.column_stack(columns)
            _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1).astype(np.int64)
            out = [np.asarray(c[first], dtype=np.float64) for c in columns]
            w = np.bincount(inverse, weights=weights, minlength=len(first)).astype(np.float64)
            return out, w, inverse
        key = key * k + codes.astype(np.int64)
        radix *= k
    inverse_raw, uniq_keys = pd.factorize(key)
    inverse = np.asarray(inverse_raw, dtype=np.int64)
    m = len(uniq_keys)
    out = []
    for col in columns:
        u = np.empty(m, dtype=np.float64)
        u[inverse] = col
        out.append(u)
    w = np.bincount(inverse, weights=weights, minlength=m).astype(np.float64)
    return out, w, inverse


def _hyp2f1(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike) -> FloatArray:
    """Gauss 2F1(a, b; c; z) for 0 <= z < 1: ``scipy.special.hyp2f1`` with a series fallback.

    scipy's implementation returns ``inf``/``nan`` in some parameter regions
    (e.g. integer c-a-b with large c, where the 1-z transformation overflows,
    or z close to 1 with c-a-b < 0).  Those elements are recomputed by summing
    the defining power series directly (:func:`_hyp2f1_series`).
    """
    arrs = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    aa, bb, cc, zz = (np.ascontiguousarray(v).reshape(-1) for v in arrs)
    with np.errstate(all="ignore"):
        val = np.asarray(special.hyp2f1(aa, bb, cc, zz), dtype=np.float64).copy()
    bad = ~np.isfinite(val)
    if np.any(bad):
        val[bad] = _hyp2f1_series(aa[bad], bb[bad], cc[bad], zz[bad])
    return val.reshape(arrs[0].shape)


def _hyp2f1_series(
    a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray, max_terms: int = 5_000_000
) -> FloatArray:
    """sum_k (a)_k (b)_k / ((c)_k k!) z^k, vectorised over elements and summed in blocks of k.

    Stops for an element once the ratio of successive terms is below 1 and the
    latest term is below 1e-17 of the running sum (the geometric tail is then
    < 1e-17 / (1 - z) relative).  Elements that do not converge within
    ``max_terms`` terms are NaN.
    """
    n = len(a)
    total = np.ones(n, dtype=np.float64)
    last = np.ones(n, dtype=np.float64)
    active = np.arange(n)
    k0 = 0
    with np.errstate(all="ignore"):
        while active.size and k0 < max_terms:
            block = int(min(65_536, max(256, 4_000_000 // active.size)))
            k = k0 + np.arange(block, dtype=np.float64)
            ratio = (
                (a[active, None] + k) * (b[active, None] + k) / ((c[active, None] + k) * (k + 1.0)) * z[active, None]
            )
            terms = last[active, None] * np.cumprod(ratio, axis=1)
            total[active] += terms.sum(axis=1)
            last[active] = terms[:, -1]
            k0 += block
            finished = (np.abs(terms[:, -1]) <= 1e-17 * np.abs(total[active])) & (np.abs(ratio[:, -1]) < 1.0)
            finished |= ~np.isfinite(total[active])
            active = active[~finished]
    total[active] = np.nan
    total[~np.isfinite(total)] = np.nan
    return total


@dataclass(frozen=True)
class _OptResult:
    params: FloatArray
    converged: bool
    message: str


def _maximise(
    neg_ll_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    start: Sequence[float],
    names: Sequence[str],
) -> _OptResult:
    """Minimise a (normalised) negative log-likelihood over log-parameters.

    ``neg_ll_and_grad`` takes *log* parameters and returns the objective and
    its gradient with respect to the log parameters.  L-BFGS-B with box bounds
    ``[log 1e-6, log 1e6]``.  A run that stops with a line-search warning but a
    vanishing gradient is accepted as converged; a solution on a bound is not.
    """
    x0 = np.clip(np.log(np.asarray(start, dtype=np.float64)), _LOG_LO + 1e-3, _LOG_HI - 1e-3)
    bounds = [(_LOG_LO, _LOG_HI)] * len(x0)
    best: Any = None
    for attempt in range(2):
        res = optimize.minimize(
            neg_ll_and_grad,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 30},
        )
        if best is None or res.fun < best.fun:
            best = res
        _, grad = neg_ll_and_grad(np.asarray(res.x))
        if res.success or float(np.max(np.abs(grad))) < 1e-5:
            break
        # restart once from the best point found (helps after a bad line search)
        x0 = np.asarray(res.x)
    x = np.asarray(best.x, dtype=np.float64)
    _, grad = neg_ll_and_grad(x)
    free = (x > _LOG_LO + 1e-6) & (x < _LOG_HI - 1e-6)
    small_grad = float(np.max(np.abs(grad[free]), initial=0.0)) < 1e-5
    converged = bool(best.success) or small_grad
    message = str(best.message)
    if not best.success and small_grad:
        message += " (stopped with gradient below 1e-5)"
    on_bound = [name for name, ok in zip(names, free) if not ok]
    if on_bound:
        converged = False
        message += (
            f"; parameter(s) {', '.join(on_bound)} reached the search bound "
            f"[{_PARAM_MIN:g}, {_PARAM_MAX:g}] -- the MLE is on the boundary of the parameter space"
        )
    return _OptResult(params=np.exp(x), converged=converged, message=message)


# --------------------------------------------------------------------------- #
# sBG -- shifted-beta-geometric (Fader & Hardie 2007, 2010)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class SBGFit:
    """Maximum-likelihood sBG fit (Fader & Hardie 2007).

    The churn probability theta of a customer is Beta(alpha, beta) distributed
    across customers; given theta, the period in which a customer churns is
    geometric.  ``log_likelihood`` is the maximised total log-likelihood
    (eq. B3 of [FH07], summed over cohorts); ``n_customers`` the summed cohort
    sizes.
    """

    alpha: float
    beta: float
    log_likelihood: float
    n_customers: int
    n_cohorts: int
    converged: bool
    message: str

    @classmethod
    def from_params(cls, alpha: float, beta: float) -> SBGFit:
        """A fit object from known parameters (e.g. loaded from the warehouse)."""
        _check_positive(alpha=alpha, beta=beta)
        return cls(float(alpha), float(beta), math.nan, 0, 0, True, "parameters supplied, not fitted")

    @property
    def mean_churn_probability(self) -> float:
        """E[theta] = alpha / (alpha + beta): the period-1 churn probability."""
        return self.alpha / (self.alpha + self.beta)

    def survival(self, t: npt.ArrayLike) -> FloatOrArray:
        """S(t); see :func:`sbg_survival`."""
        return sbg_survival(self.alpha, self.beta, t)

    def retention_rate(self, t: npt.ArrayLike) -> FloatOrArray:
        """r_t; see :func:`sbg_retention_rate`."""
        return sbg_retention_rate(self.alpha, self.beta, t)

    def churn_probability(self, t: npt.ArrayLike) -> FloatOrArray:
        """P(T = t); see :func:`sbg_churn_probability`."""
        return sbg_churn_probability(self.alpha, self.beta, t)


@dataclass(frozen=True)
class _SBGStats:
    """Sufficient statistics of (possibly many) right-censored cohorts.

    ``churned[t]`` = customers observed to churn in period t (t >= 1);
    ``censored[t]`` = customers still alive when their cohort's observation
    ended at period t.  Index 0 is unused (always 0).
    """

    churned: FloatArray
    censored: FloatArray
    n_customers: float
    n_cohorts: int


def _sbg_stats(
    codes: IntArray,
    period: IntArray,
    alive: FloatArray,
    labels: Sequence[Any],
    *,
    check_identifiable: bool = True,
) -> _SBGStats:
    """Validate long-format cohort data (sorted by cohort, period) and reduce it."""
    n = len(codes)
    if n == 0:
        raise ValueError("no cohort data supplied")
    if np.any(alive < 0):
        i = int(np.flatnonzero(alive < 0)[0])
        raise ValueError(
            f"negative customer count {alive[i]:g} for cohort {labels[codes[i]]!r} at period {period[i]}"
        )
    if np.any(period < 0):
        i = int(np.flatnonzero(period < 0)[0])
        raise ValueError(f"negative period {period[i]} for cohort {labels[codes[i]]!r}")
    first = np.ones(n, dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = codes[1:] != codes[:-1]
    if np.any(period[first] != 0):
        i = int(np.flatnonzero(first & (period != 0))[0])
        raise ValueError(
            f"cohort {labels[codes[i]]!r} has no period-0 row (its cohort size); "
            f"its first observed period is {period[i]}"
        )
    cont = ~first  # rows that continue the previous row's cohort
    step = np.diff(period)[cont[1:]]
    if np.any(step != 1):
        j = int(np.flatnonzero(cont[1:])[np.flatnonzero(step != 1)[0]]) + 1
        what = "duplicate" if period[j] == period[j - 1] else "missing"
        raise ValueError(
            f"cohort {labels[codes[j]]!r}: {what} period(s) between {period[j - 1]} and {period[j]}; "
            "periods must run 0, 1, 2, ... without gaps"
        )
    prev_alive = alive[:-1][cont[1:]]
    cur_alive = alive[1:][cont[1:]]
    if np.any(cur_alive > prev_alive):
        j = int(np.flatnonzero(cont[1:])[np.flatnonzero(cur_alive > prev_alive)[0]]) + 1
        raise ValueError(
            f"survivor counts must be non-increasing: cohort {labels[codes[j]]!r} has "
            f"{alive[j]:g} alive at period {period[j]} but {alive[j - 1]:g} at period {period[j - 1]}"
        )
    tmax = int(period.max())
    churned = np.bincount(period[1:][cont[1:]], weights=prev_alive - cur_alive, minlength=tmax + 1)
    censored = np.bincount(period[last], weights=alive[last], minlength=tmax + 1)
    churned[0] = 0.0
    censored[0] = 0.0  # cohorts observed only at period 0 contribute log S(0) = 0
    n_customers = float(alive[first].sum())
    stats = _SBGStats(churned.astype(np.float64), censored.astype(np.float64), n_customers, int(first.sum()))
    if check_identifiable:
        _sbg_check_identifiable(stats)
    return stats


def _sbg_check_identifiable(stats: _SBGStats) -> None:
    if stats.n_customers <= 0:
        raise ValueError("all cohorts are empty (cohort sizes sum to zero)")
    tmax = len(stats.churned) - 1
    if tmax < 2:
        raise ValueError(
            f"the sBG needs at least 2 observed periods after period 0 (got {tmax}): with one period "
            "only alpha/(alpha+beta) is identified, not alpha and beta separately"
        )
    if stats.churned.sum() <= 0:
        raise ValueError(
            "no customer churned in any observed period (everyone survived): the sBG likelihood "
            "has no finite maximum"
        )
    if stats.churned[2:].sum() + stats.censored[2:].sum() <= 0:
        raise ValueError(
            "everyone churned in period 1 (no customer is observed alive beyond period 1): "
            "alpha and beta are not identifiable"
        )


def _sbg_ll_grad(alpha: float, beta: float, stats: _SBGStats) -> tuple[float, float, float]:
    """Log-likelihood of [FH07] eq. B3 generalised to censored cohorts, and its gradient.

    LL = sum_t churned_t * ln P(T=t) + sum_t censored_t * ln S(t), with
    P(T=t) = B(alpha+1, beta+t-1)/B(alpha, beta) and S(t) = B(alpha, beta+t)/B(alpha, beta).
    """
    tmax = len(stats.churned) - 1
    t = np.arange(1, tmax + 1, dtype=np.float64)
    d = stats.churned[1:]
    c = stats.censored[1:]
    b0 = special.betaln(alpha, beta)
    log_p = special.betaln(alpha + 1.0, beta + t - 1.0) - b0
    log_s = special.betaln(alpha, beta + t) - b0
    ll = _dot(d, log_p) + _dot(c, log_s)
    psi_ab = special.digamma(alpha + beta)
    d0_a = special.digamma(alpha) - psi_ab
    d0_b = special.digamma(beta) - psi_ab
    psi_abt = special.digamma(alpha + beta + t)
    dlp_a = special.digamma(alpha + 1.0) - psi_abt - d0_a
    dlp_b = special.digamma(beta + t - 1.0) - psi_abt - d0_b
    dls_a = special.digamma(alpha) - psi_abt - d0_a
    dls_b = special.digamma(beta + t) - psi_abt - d0_b
    return ll, _dot(d, dlp_a) + _dot(c, dls_a), _dot(d, dlp_b) + _dot(c, dls_b)


def _fit_sbg_stats(stats: _SBGStats, initial_params: tuple[float, float] | None) -> SBGFit:
    n = stats.n_customers

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        alpha, beta = np.exp(log_params)
        ll, g_a, g_b = _sbg_ll_grad(float(alpha), float(beta), stats)
        return -ll / n, np.array([-g_a * alpha / n, -g_b * beta / n])

    if initial_params is None:
        at_risk_1 = stats.churned[1:].sum() + stats.censored[1:].sum()
        p1 = stats.churned[1] / at_risk_1 if at_risk_1 > 0 else 0.5
        p1 = float(np.clip(p1, 0.01, 0.99)) if p1 > 0 else 0.5
        start: tuple[float, float] = (1.0, (1.0 - p1) / p1)
    else:
        _check_positive(alpha=initial_params[0], beta=initial_params[1])
        start = initial_params
    res = _maximise(objective, start, ("alpha", "beta"))
    alpha, beta = (float(v) for v in res.params)
    ll, _, _ = _sbg_ll_grad(alpha, beta, stats)
    converged, message = res.converged, res.message
    if converged and alpha + beta > _SBG_HOMOGENEOUS:
        converged = False
        message += (
            f"; alpha+beta = {alpha + beta:.3g} is drifting to infinity: the data show no churn "
            "heterogeneity (retention does not rise with tenure), so the MLE is the geometric limit "
            f"with constant churn probability {alpha / (alpha + beta):.4g}"
        )
    return SBGFit(
        alpha=alpha,
        beta=beta,
        log_likelihood=ll,
        n_customers=int(round(n)),
        n_cohorts=stats.n_cohorts,
        converged=converged,
        message=message,
    )


def _single_curve(survivors: npt.ArrayLike) -> tuple[IntArray, IntArray, FloatArray]:
    s = _as_float_array(survivors, "survivors")
    if s.ndim != 1:
        raise ValueError(f"survivors must be one-dimensional, got shape {s.shape}")
    if s.size < 3:
        raise ValueError(
            f"survivors needs the cohort size plus at least 2 observed periods (>= 3 values), got {s.size}"
        )
    return np.zeros(s.size, dtype=np.int64), np.arange(s.size, dtype=np.int64), s


def fit_sbg(survivors: npt.ArrayLike, *, initial_params: tuple[float, float] | None = None) -> SBGFit:
    """Fit the sBG model to one cohort's survival curve, as in Fader & Hardie (2007).

    Parameters
    ----------
    survivors:
        ``survivors[0]`` is the cohort size and ``survivors[t]`` the number of
        customers still active at the end of period t (i.e. who have renewed
        t times).  Counts (not percentages) give the paper's log-likelihood.
    initial_params:
        Optional starting ``(alpha, beta)``.

    The customers still alive at the last period are right-censored and
    contribute ln S(t_last); those lost in period t contribute ln P(T=t)
    ([FH07] appendix, eq. B3).  Raises ``ValueError`` for fewer than two
    observed periods, negative or increasing counts, nobody churning, or
    everybody churning in period 1.
    """
    codes, period, alive = _single_curve(survivors)
    stats = _sbg_stats(codes, period, alive, [0])
    return _fit_sbg_stats(stats, initial_params)


def sbg_log_likelihood(alpha: float, beta: float, survivors: npt.ArrayLike) -> float:
    """Total sBG log-likelihood ([FH07] eq. B3) of one survival curve at (alpha, beta)."""
    _check_positive(alpha=alpha, beta=beta)
    codes, period, alive = _single_curve(survivors)
    stats = _sbg_stats(codes, period, alive, [0], check_identifiable=False)
    return _sbg_ll_grad(float(alpha), float(beta), stats)[0]


def fit_sbg_cohorts(
    data: pd.DataFrame | npt.ArrayLike,
    *,
    cohort_sizes: Mapping[Any, float] | pd.Series | npt.ArrayLike | None = None,
    cohort_col: str = "cohort",
    period_col: str = "period",
    alive_col: str = "alive",
    initial_params: tuple[float, float] | None = None,
) -> SBGFit:
    """Fit one sBG to many cohorts of different ages (right-censored).

    Every cohort is a survival curve as in :func:`fit_sbg`; younger cohorts
    are simply observed for fewer periods.  Customers who churned in period t
    contribute ln P(T=t), those alive at their cohort's last observed period
    t_c contribute ln S(t_c).  Because the likelihood only depends on the
    churn / censoring counts per period, any number of cohort-months reduces to
    two vectors before optimisation.

    Parameters
    ----------
    data:
        Either

        * a **long** DataFrame with columns ``cohort_col``, ``period_col``
          (0, 1, 2, ... months since acquisition, no gaps) and ``alive_col``
          (customers active at the end of that period; the period-0 row is the
          cohort size), or
        * a **wide** 2-D array / DataFrame, one row per cohort, column 0 the
          cohort size and column t the survivors after period t, NaN after
          the cohort's last observed period.
    cohort_sizes:
        Optional cohort sizes.  For wide input a sequence with one size per
        row, in which case the matrix holds periods 1..P only.  For long input
        a mapping/Series ``cohort -> size`` used for cohorts without a period-0
        row (a cohort with both must agree).
    initial_params:
        Optional starting ``(alpha, beta)``.
    """
    long_cols = [cohort_col, period_col, alive_col]
    if isinstance(data, pd.DataFrame) and any(c in data.columns for c in long_cols):
        missing = [c for c in long_cols if c not in data.columns]
        if missing:
            raise ValueError(f"long-format cohort data is missing column(s) {missing}")
        codes, period, alive, labels = _long_cohorts(data, cohort_sizes, cohort_col, period_col, alive_col)
    else:
        codes, period, alive, labels = _wide_cohorts(data, cohort_sizes)
    stats = _sbg_stats(codes, period, alive, labels)
    return _fit_sbg_stats(stats, initial_params)


def _long_cohorts(
    data: pd.DataFrame,
    cohort_sizes: Mapping[Any, float] | pd.Series | npt.ArrayLike | None,
    cohort_col: str,
    period_col: str,
    alive_col: str,
) -> tuple[IntArray, IntArray, FloatArray, list[Any]]:
    df = data[[cohort_col, period_col, alive_col]]
    if df[cohort_col].isna().any():
        raise ValueError(f"column {cohort_col!r} contains missing cohort labels")
    period_f = _as_float_array(df[period_col].to_numpy(dtype=np.float64, na_value=np.nan), period_col)
    _check_integer_valued(period_f, period_col)
    alive_f = _as_float_array(df[alive_col].to_numpy(dtype=np.float64, na_value=np.nan), alive_col)
    cohorts = df[cohort_col].to_numpy()
    if cohort_sizes is not None:
        if not isinstance(cohort_sizes, (Mapping, pd.Series)):
            raise ValueError("for long-format input cohort_sizes must be a mapping or Series cohort -> size")
        sizes = pd.Series(cohort_sizes, dtype=np.float64)
        have0 = pd.Series(alive_f[period_f == 0], index=cohorts[period_f == 0])
        common = sizes.index.intersection(have0.index)
        if len(common) and not np.allclose(sizes.loc[common].to_numpy(), have0.loc[common].to_numpy()):
            raise ValueError("cohort_sizes disagrees with the period-0 rows of the data")
        extra = sizes.drop(common)
        cohorts = np.concatenate([cohorts, extra.index.to_numpy()])
        period_f = np.concatenate([period_f, np.zeros(len(extra))])
        alive_f = np.concatenate([alive_f, _as_float_array(extra.to_numpy(), "cohort_sizes")])
    codes_raw, uniques = pd.factorize(cohorts, sort=True)
    codes = np.asarray(codes_raw, dtype=np.int64)
    period = period_f.astype(np.int64)
    order = np.lexsort((period, codes))
    return codes[order], period[order], alive_f[order], list(uniques)


def _wide_cohorts(
    data: pd.DataFrame | npt.ArrayLike,
    cohort_sizes: Mapping[Any, float] | pd.Series | npt.ArrayLike | None,
) -> tuple[IntArray, IntArray, FloatArray, list[Any]]:
    labels_index = data.index if isinstance(data, pd.DataFrame) else None
    if isinstance(data, pd.DataFrame):
        first_period = 0 if cohort_sizes is None else 1
        expected = list(range(first_period, first_period + data.shape[1]))
        try:
            ok = [int(c) for c in data.columns] == expected and all(float(c) == int(c) for c in data.columns)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                "a DataFrame of cohorts must either be long (columns cohort/period/alive, or the names "
                f"passed as cohort_col/period_col/alive_col) or wide with period columns {expected[:3]}..."
            )
    try:
        mat = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "cohort data must be a long DataFrame with cohort/period/alive columns or a numeric "
            f"cohorts x periods matrix: {exc}"
        ) from exc
    if mat.ndim != 2:
        raise ValueError(f"the survivors matrix must be 2-D (cohorts x periods), got shape {mat.shape}")
    if cohort_sizes is not None:
        if isinstance(cohort_sizes, Mapping):
            raise ValueError("for matrix input cohort_sizes must be a sequence with one size per row")
        sizes = _as_1d(np.asarray(cohort_sizes, dtype=np.float64), "cohort_sizes")
        if len(sizes) != mat.shape[0]:
            raise ValueError(f"cohort_sizes has {len(sizes)} entries for {mat.shape[0]} cohort rows")
        mat = np.column_stack([sizes, mat])
    if mat.shape[0] == 0 or mat.shape[1] == 0:
        raise ValueError("the survivors matrix is empty")
    if np.any(np.isinf(mat)):
        raise ValueError("the survivors matrix contains infinite values")
    missing = np.isnan(mat)
    if np.any(missing[:, 0]):
        raise ValueError(f"cohort row {int(np.flatnonzero(missing[:, 0])[0])} has no cohort size (column 0 is NaN)")
    if np.any(np.diff(missing.astype(np.int8), axis=1) < 0):
        row = int(np.flatnonzero(np.any(np.diff(missing.astype(np.int8), axis=1) < 0, axis=1))[0])
        raise ValueError(f"cohort row {row} has a NaN gap: only trailing NaNs (unobserved periods) are allowed")
    rows, cols = np.nonzero(~missing)
    labels = list(labels_index) if labels_index is not None else list(range(mat.shape[0]))
    return rows.astype(np.int64), cols.astype(np.int64), mat[rows, cols], labels


def sbg_survival(alpha: float, beta: float, t: npt.ArrayLike) -> FloatOrArray:
    """S(t) = B(alpha, beta + t) / B(alpha, beta): share of a cohort alive after t periods ([FH07] eq. 6)."""
    _check_positive(alpha=alpha, beta=beta)
    tt = _as_float_array(t, "t")
    _check_non_negative(tt, "t")
    val = np.exp(special.betaln(alpha, beta + tt) - special.betaln(alpha, beta))
    return _out(np.asarray(val, dtype=np.float64), tt.ndim == 0)


def sbg_churn_probability(alpha: float, beta: float, t: npt.ArrayLike) -> FloatOrArray:
    """P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta), t = 1, 2, ... ([FH07] eq. 5)."""
    _check_positive(alpha=alpha, beta=beta)
    tt = _as_float_array(t, "t")
    if np.any(tt < 1):
        raise ValueError("t must be >= 1 (churn happens in period 1 at the earliest)")
    val = np.exp(special.betaln(alpha + 1.0, beta + tt - 1.0) - special.betaln(alpha, beta))
    return _out(np.asarray(val, dtype=np.float64), tt.ndim == 0)


def sbg_retention_rate(alpha: float, beta: float, t: npt.ArrayLike) -> FloatOrArray:
    """r_t = S(t)/S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), t = 1, 2, ... ([FH07] eq. 8)."""
    _check_positive(alpha=alpha, beta=beta)
    tt = _as_float_array(t, "t")
    if np.any(tt < 1):
        raise ValueError("t must be >= 1")
    val = (beta + tt - 1.0) / (alpha + beta + tt - 1.0)
    return _out(np.asarray(val, dtype=np.float64), tt.ndim == 0)


def _renewals(n: npt.ArrayLike) -> FloatArray:
    nn = _as_float_array(n, "n")
    _check_non_negative(nn, "n")
    _check_integer_valued(nn, "n")
    return nn


def sbg_discounted_expected_residual_lifetime(
    alpha: float, beta: float, n: npt.ArrayLike, discount_rate: float
) -> FloatOrArray:
    """DERL for a customer who has made ``n`` renewals (Fader & Hardie 2010).

    DERL(d | alpha, beta, n) = B(alpha, beta+n+1)/B(alpha, beta+n)
                               * 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d))

    which equals sum_{k>=0} S(n+1+k)/S(n) / (1+d)^k: the expected number of
    future payments, the next one (renewal n+1) undiscounted, as in [FH10]
    (their "n-1 renewals" version shifted by one).  Multiply by the payment per
    period to get the residual value of the customer.  Vectorised over ``n``;
    ``discount_rate`` is per period and must be > 0.
    """
    _check_positive(alpha=alpha, beta=beta)
    if not (math.isfinite(discount_rate) and discount_rate > 0):
        raise ValueError(f"discount_rate must be > 0 for the infinite-horizon DERL, got {discount_rate!r}")
    nn = _renewals(n)
    uniq, inverse = np.unique(nn.reshape(-1), return_inverse=True)
    ratio = (beta + uniq) / (alpha + beta + uniq)  # = B(alpha, beta+n+1) / B(alpha, beta+n)
    z = np.full_like(uniq, 1.0 / (1.0 + discount_rate))
    ones = np.ones_like(uniq)
    if discount_rate < 0.01:
        # z = 1/(1+d) close to 1: scipy's hyp2f1 loses digits when alpha is large (measured
        # ~1e-8..1e-5 relative for alpha > 3, d < 0.002); the series needs only ~40/d terms.
        hyp = _hyp2f1_series(ones, beta + uniq + 1.0, alpha + beta + uniq + 1.0, z)
    else:
        hyp = _hyp2f1(ones, beta + uniq + 1.0, alpha + beta + uniq + 1.0, z)
    vals = (ratio * hyp)[inverse.reshape(-1)].reshape(nn.shape)
    return _out(np.asarray(vals, dtype=np.float64), nn.ndim == 0)


def sbg_expected_discounted_periods(
    alpha: float, beta: float, n: npt.ArrayLike, discount_rate: float, horizon: int
) -> FloatOrArray:
    """Finite-horizon discounted expected future periods for a customer with ``n`` renewals.

    sum_{k=1..H} S(n+k)/S(n) / (1+d)^k, i.e. each of the next ``horizon``
    periods' survival probability, conditional on having survived ``n``
    periods, discounted by one period at k = 1.  As H -> infinity this tends
    to ``DERL(d | alpha, beta, n) / (1 + d)``.  Vectorised over ``n`` (unique
    values are evaluated once); multiply by margin per period for a 12/24/36
    period predicted CLV.
    """
    _check_positive(alpha=alpha, beta=beta)
    if not (math.isfinite(discount_rate) and discount_rate >= 0):
        raise ValueError(f"discount_rate must be >= 0, got {discount_rate!r}")
    if int(horizon) != horizon or horizon < 0:
        raise ValueError(f"horizon must be a non-negative integer, got {horizon!r}")
    nn = _renewals(n)
    flat = nn.reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    k = np.arange(1, int(horizon) + 1, dtype=np.float64)
    log_cond = special.betaln(alpha, beta + uniq[:, None] + k[None, :]) - special.betaln(alpha, beta + uniq[:, None])
    disc = np.power(1.0 + discount_rate, -k)
    vals = np.einsum("ij,j->i", np.exp(log_cond), disc)
    out = np.asarray(vals[inverse.reshape(-1)].reshape(nn.shape), dtype=np.float64)
    return _out(out, nn.ndim == 0)


# --------------------------------------------------------------------------- #
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class BGNBDFit:
    """Maximum-likelihood BG/NBD fit ([FHL05a]).

    Transaction rate lambda ~ Gamma(shape r, rate alpha); after every repeat
    purchase a customer drops out with probability p ~ Beta(a, b).  ``alpha``
    is in the time unit of the recency / T data (weeks for the default RFM
    summary).  ``n_customers`` is the total weight (number of customers).
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> BGNBDFit:
        """A fit object from known parameters (e.g. loaded from the warehouse)."""
        _check_positive(r=r, alpha=alpha, a=a, b=b)
        return cls(float(r), float(alpha), float(a), float(b), math.nan, 0, True, "parameters supplied, not fitted")


def _validate_rfm(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
    x = _as_1d(frequency, "frequency")
    tx = _as_1d(recency, "recency")
    tt = _as_1d(T, "T")
    if not (len(x) == len(tx) == len(tt)):
        raise ValueError(
            f"frequency, recency and T must have the same length, got {len(x)}, {len(tx)} and {len(tt)}"
        )
    if len(x) == 0:
        raise ValueError("no customers supplied (empty frequency/recency/T)")
    _check_non_negative(x, "frequency")
    _check_non_negative(tx, "recency")
    _check_non_negative(tt, "T")
    _check_integer_valued(x, "frequency")
    tol = 1e-9 * max(1.0, float(tt.max()))
    if np.any(tx > tt + tol):
        i = int(np.flatnonzero(tx > tt + tol)[0])
        raise ValueError(f"recency must not exceed T: row {i} has recency={tx[i]:g} > T={tt[i]:g}")
    if np.any((x == 0) & (tx != 0)):
        i = int(np.flatnonzero((x == 0) & (tx != 0))[0])
        raise ValueError(f"recency must be 0 when frequency is 0: row {i} has recency={tx[i]:g}")
    tx = np.minimum(tx, tt)
    w: FloatArray | None = None
    if weights is not None:
        w = _as_1d(weights, "weights")
        if len(w) != len(x):
            raise ValueError(f"weights has length {len(w)} but there are {len(x)} customers")
        _check_non_negative(w, "weights")
        if w.sum() <= 0:
            raise ValueError("weights sum to zero")
    return x, tx, tt, w


def compress_rfm(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Collapse customers with identical ``(frequency, recency, T)`` into weighted rows.

    Returns a DataFrame with columns ``frequency``, ``recency``, ``T`` and
    ``weight`` (number of customers, or summed input weights), in order of
    first appearance.  With recency / T in whole periods a million customers
    typically collapse to a few tens of thousands of rows, which is what makes
    :func:`fit_bgnbd` fast; the fit functions compress internally.
    """
    x, tx, tt, w = _validate_rfm(frequency, recency, T, weights)
    (ux, utx, uT), uw, _ = _compress([x, tx, tt], w)
    return pd.DataFrame({"frequency": ux, "recency": utx, "T": uT, "weight": uw})


@dataclass(frozen=True)
class _BGNBDData:
    x: FloatArray
    tx: FloatArray
    T: FloatArray
    w: FloatArray
    pos: BoolArray
    b_off: FloatArray  # max(x, 1) - 1: safe "x - 1" for the A4 term
    ux: FloatArray
    ix: IntArray
    wx: FloatArray
    uT: FloatArray
    iT: IntArray
    utx: FloatArray
    itx: IntArray
    total_w: float


def _factor(values: FloatArray) -> tuple[FloatArray, IntArray]:
    codes, uniques = pd.factorize(values)
    return np.asarray(uniques, dtype=np.float64), np.asarray(codes, dtype=np.int64)


def _bgnbd_prepare(x: FloatArray, tx: FloatArray, tt: FloatArray, w: FloatArray) -> _BGNBDData:
    keep = w > 0
    x, tx, tt, w = x[keep], tx[keep], tt[keep], w[keep]
    ux, ix = _factor(x)
    uT, iT = _factor(tt)
    utx, itx = _factor(tx)
    wx = np.bincount(ix, weights=w, minlength=len(ux)).astype(np.float64)
    return _BGNBDData(
        x=x, tx=tx, T=tt, w=w, pos=x > 0, b_off=np.maximum(x, 1.0) - 1.0,
        ux=ux, ix=ix, wx=wx, uT=uT, iT=iT, utx=utx, itx=itx, total_w=float(w.sum()),
    )


def _bgnbd_ll_grad(params: FloatArray, data: _BGNBDData, want_grad: bool = True) -> tuple[float, FloatArray]:
    """Total BG/NBD log-likelihood ([N004]) and its gradient w.r.t. (r, alpha, a, b).

    ln A1 = ln G(r+x) - ln G(r) + r ln alpha
    ln A2 = ln B(a, b+x) - ln B(a, b)
    ln A3 = -(r+x) ln(alpha+T)
    ln A4 = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)          (x > 0 only)
    LL_i  = ln A1 + ln A2 + logaddexp(ln A3, ln A4)
    Terms depending on x only are evaluated once per distinct x.
    """
    r, alpha, a, b = (float(v) for v in params)
    ux = data.ux
    ln_a12 = (
        special.gammaln(r + ux) - special.gammaln(r) + r * math.log(alpha)
        + special.betaln(a, b + ux) - special.betaln(a, b)
    )
    log_aT = np.log(alpha + data.uT)[data.iT]
    log_atx = np.log(alpha + data.utx)[data.itx]
    rx = r + data.x
    ln_a3 = -rx * log_aT
    ln_a4 = np.where(data.pos, math.log(a) - np.log(b + data.b_off) - rx * log_atx, -np.inf)
    lse = np.logaddexp(ln_a3, ln_a4)
    ll = _dot(data.wx, ln_a12) + _dot(data.w, lse)
    if not want_grad:
        return ll, np.zeros(4)
    w3 = np.exp(ln_a3 - lse)
    w4 = np.exp(ln_a4 - lse)
    inv_aT = (1.0 / (alpha + data.uT))[data.iT]
    inv_atx = (1.0 / (alpha + data.utx))[data.itx]
    w = data.w
    psi_abx = special.digamma(a + b + ux)
    g_r = _dot(data.wx, special.digamma(r + ux) - special.digamma(r) + math.log(alpha)) - _dot(
        w, w3 * log_aT + w4 * log_atx
    )
    g_alpha = data.total_w * r / alpha - _dot(w, rx * (w3 * inv_aT + w4 * inv_atx))
    g_a = _dot(data.wx, special.digamma(a + b) - psi_abx) + _dot(w, w4) / a
    g_b = _dot(
        data.wx, special.digamma(b + ux) + special.digamma(a + b) - special.digamma(b) - psi_abx
    ) - _dot(w, w4 / (b + data.b_off))
    return ll, np.array([g_r, g_alpha, g_a, g_b], dtype=np.float64)


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Total (weighted) BG/NBD log-likelihood at the given parameters ([N004])."""
    _check_positive(r=r, alpha=alpha, a=a, b=b)
    x, tx, tt, w = _validate_rfm(frequency, recency, T, weights)
    data = _bgnbd_prepare(x, tx, tt, np.ones_like(x) if w is None else w)
    return _bgnbd_ll_grad(np.array([r, alpha, a, b]), data, want_grad=False)[0]


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    initial_params: tuple[float, float, float, float] | None = None,
) -> BGNBDFit:
    """Fit the BG/NBD model by maximum likelihood ([FHL05a], [N004]).

    Parameters
    ----------
    frequency, recency, T:
        Repeat-purchase count x, time of the last purchase t_x and age T per
        customer (or per weighted row), in a common time unit.
    weights:
        Number of customers represented by each row (default 1).  Rows are
        compressed to unique ``(x, t_x, T)`` internally, so passing a million
        raw customers with whole-period recency/T is fast.
    initial_params:
        Optional start ``(r, alpha, a, b)`` in the data's time unit.

    Raises ``ValueError`` for mismatched lengths, negative values, recency > T,
    non-integer frequency, non-zero recency with zero frequency, or data
    without any repeat buyer (then a and b are not identified).
    """
    x, tx, tt, w = _validate_rfm(frequency, recency, T, weights)
    (ux, utx, uT), uw, _ = _compress([x, tx, tt], w)
    if not np.any((ux > 0) & (uw > 0)):
        raise ValueError(
            "no repeat buyers (every frequency is 0): the BG/NBD dropout parameters a, b are not identifiable"
        )
    t_max = float(uT.max())
    scale = 1.0 / t_max if t_max > 0 else 1.0  # fit in time units where max T = 1 (conditioning)
    scaled = _bgnbd_prepare(ux, utx * scale, uT * scale, uw)
    n = scaled.total_w

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        ll, grad = _bgnbd_ll_grad(params, scaled)
        return -ll / n, -grad * params / n

    if initial_params is None:
        start: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    else:
        r0, alpha0, a0, b0 = initial_params
        _check_positive(r=r0, alpha=alpha0, a=a0, b=b0)
        start = (r0, alpha0 * scale, a0, b0)
    res = _maximise(objective, start, ("r", "alpha", "a", "b"))
    r, alpha_s, a, b = (float(v) for v in res.params)
    alpha = alpha_s / scale
    original = _bgnbd_prepare(ux, utx, uT, uw)
    ll, _ = _bgnbd_ll_grad(np.array([r, alpha, a, b]), original, want_grad=False)
    return BGNBDFit(
        r=r, alpha=alpha, a=a, b=b, log_likelihood=ll, n_customers=int(round(n)),
        converged=res.converged, message=res.message,
    )


def _broadcast_prediction_inputs(
    t: npt.ArrayLike | None,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> tuple[list[FloatArray], tuple[int, ...], bool]:
    arrays = [_as_float_array(frequency, "frequency"), _as_float_array(recency, "recency"), _as_float_array(T, "T")]
    if t is not None:
        arrays.append(_as_float_array(t, "t"))
    scalar = all(arr.ndim == 0 for arr in arrays)
    try:
        bcast = np.broadcast_arrays(*arrays)
    except ValueError as exc:
        raise ValueError(f"frequency, recency, T (and t) have incompatible shapes: {exc}") from exc
    shape = bcast[0].shape
    flat = [np.ascontiguousarray(arr).reshape(-1) for arr in bcast]
    x, tx, tt = _validate_rfm(flat[0], flat[1], flat[2])[:3]
    out = [x, tx, tt]
    if t is not None:
        _check_non_negative(flat[3], "t")
        out.append(flat[3])
    return out, shape, scalar


def _on_unique_rows(func: Callable[..., FloatArray], columns: list[FloatArray]) -> FloatArray:
    """Evaluate ``func(*columns)`` once per distinct row when that pays off."""
    if len(columns[0]) <= _COMPRESS_THRESHOLD:
        return func(*columns)
    uniq, _, inverse = _compress(columns, None)
    return func(*uniq)[inverse]


def _bgnbd_p_alive(r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, tt: FloatArray) -> FloatArray:
    """[N021]: 1 / (1 + delta(x>0) a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))."""
    pos = x > 0
    log_div = np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + (r + x) * (np.log(alpha + tt) - np.log(alpha + tx))
    return np.where(pos, special.expit(-log_div), 1.0)


def _bgnbd_growth(r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, tt: FloatArray) -> FloatArray:
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))].

    The bracket is evaluated with Euler's transformation
    ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z),
    c = a+b+x-1, z = t/(alpha+T+t): its first two parameters do not grow with
    x, where scipy's hyp2f1 of the direct form overflows for large x.
    """
    if abs(a - 1.0) < 1e-7:  # removable singularity at a = 1: average both sides
        h = 1e-6
        return 0.5 * (_bgnbd_growth(r, alpha, 1.0 - h, b, t, x, tt) + _bgnbd_growth(r, alpha, 1.0 + h, b, t, x, tt))
    z = t / (alpha + tt + t)
    c = a + b + x - 1.0
    prod = np.exp((a - 1.0) * np.log1p(-z)) * _hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    return np.asarray((a + b + x - 1.0) / (a - 1.0) * (1.0 - prod), dtype=np.float64)


def bgnbd_conditional_expected_purchases(
    fit: BGNBDFit,
    t: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatOrArray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T+t] ([FHL05a] eq. 10).

        (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
        / [1 + delta(x>0) a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)]

    The denominator is 1 / P(alive).  Inputs broadcast against each other;
    large inputs are evaluated once per distinct (t, x, t_x, T).
    """
    (x, tx, tt, tt_pred), shape, scalar = _broadcast_prediction_inputs(t, frequency, recency, T)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b

    def compute(x_: FloatArray, tx_: FloatArray, T_: FloatArray, t_: FloatArray) -> FloatArray:
        return _bgnbd_growth(r, alpha, a, b, t_, x_, T_) * _bgnbd_p_alive(r, alpha, a, b, x_, tx_, T_)

    vals = _on_unique_rows(compute, [x, tx, tt, tt_pred])
    return _out(vals.reshape(shape), scalar)


def bgnbd_probability_alive(
    fit: BGNBDFit,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatOrArray:
    """P(alive | x, t_x, T) ([N021]); exactly 1 for customers without repeat purchases.

    In the BG/NBD a customer can only drop out right after a repeat purchase,
    so someone who never came back is, by assumption, still alive.
    """
    (x, tx, tt), shape, scalar = _broadcast_prediction_inputs(None, frequency, recency, T)
    vals = _bgnbd_p_alive(fit.r, fit.alpha, fit.a, fit.b, x, tx, tt)
    return _out(np.asarray(vals, dtype=np.float64).reshape(shape), scalar)


def bgnbd_expected_purchases(fit: BGNBDFit, t: npt.ArrayLike) -> FloatOrArray:
    """E[X(t)]: expected repeat purchases of a new customer in (0, t] ([FHL05a] eq. 9).

        (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
    """
    tt = _as_float_array(t, "t")
    _check_non_negative(tt, "t")
    flat = tt.reshape(-1)
    zeros = np.zeros_like(flat)
    vals = _bgnbd_growth(fit.r, fit.alpha, fit.a, fit.b, flat, zeros, zeros)
    return _out(vals.reshape(tt.shape), tt.ndim == 0)


# --------------------------------------------------------------------------- #
# Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit ([FHL05b], [N025]).

    Transaction values z ~ Gamma(shape p, rate nu) with nu ~ Gamma(shape q,
    rate gamma) across customers; the population mean spend per transaction is
    p * gamma / (q - 1) (finite only for q > 1).  ``n_customers`` is the number
    of repeat buyers used.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str

    @classmethod
    def from_params(cls, p: float, q: float, gamma: float) -> GammaGammaFit:
        """A fit object from known parameters (e.g. loaded from the warehouse)."""
        _check_positive(p=p, q=q, gamma=gamma)
        return cls(float(p), float(q), float(gamma), math.nan, 0, True, "parameters supplied, not fitted")

    @property
    def population_mean_value(self) -> float:
        """E[Z] = p * gamma / (q - 1); ``inf`` when q <= 1."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else math.inf


def _validate_spend(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = _as_1d(frequency, "frequency")
    m = _as_1d(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ValueError(f"frequency and monetary_value must have the same length, got {len(x)} and {len(m)}")
    _check_non_negative(x, "frequency")
    _check_integer_valued(x, "frequency")
    if weights is None:
        w = np.ones_like(x)
    else:
        w = _as_1d(weights, "weights")
        if len(w) != len(x):
            raise ValueError(f"weights has length {len(w)} but there are {len(x)} customers")
        _check_non_negative(w, "weights")
    return x, m, w


@dataclass(frozen=True)
class _GGData:
    m: FloatArray
    xm: FloatArray
    w: FloatArray
    wx_rows: FloatArray  # w * x per row
    ux: FloatArray
    wx: FloatArray  # total weight per distinct x
    s_xlnm: float
    s_lnm: float
    total_w: float


def _gg_prepare(x: FloatArray, m: FloatArray, w: FloatArray) -> _GGData:
    ux, ix = _factor(x)
    wx = np.bincount(ix, weights=w, minlength=len(ux)).astype(np.float64)
    lnm = np.log(m)
    return _GGData(
        m=m, xm=x * m, w=w, wx_rows=w * x, ux=ux, wx=wx,
        s_xlnm=_dot(w * x, lnm), s_lnm=_dot(w, lnm), total_w=float(w.sum()),
    )


def _gg_ll_grad(params: FloatArray, d: _GGData, want_grad: bool = True) -> tuple[float, FloatArray]:
    """Total Gamma-Gamma log-likelihood ([N025] eq. 1a) and gradient w.r.t. (p, q, gamma).

    ln f = ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m + px ln x - (px+q) ln(gamma + m x)
    """
    p, q, g = (float(v) for v in params)
    ux = d.ux
    pux = p * ux
    log_gxm = np.log(g + d.xm)
    s_wl = _dot(d.w, log_gxm)
    s_wxl = _dot(d.wx_rows, log_gxm)
    ll = float(
        _dot(d.wx, special.gammaln(pux + q) - special.gammaln(pux) + pux * np.log(ux))
        - d.total_w * special.gammaln(q)
        + d.total_w * q * math.log(g)
        + p * d.s_xlnm
        - d.s_lnm
        - p * s_wxl
        - q * s_wl
    )
    if not want_grad:
        return ll, np.zeros(3)
    psi_pxq = special.digamma(pux + q)
    g_p = _dot(d.wx, ux * (psi_pxq - special.digamma(pux) + np.log(ux))) + d.s_xlnm - s_wxl
    g_q = _dot(d.wx, psi_pxq) - d.total_w * special.digamma(q) + d.total_w * math.log(g) - s_wl
    inv = 1.0 / (g + d.xm)
    g_g = d.total_w * q / g - p * _dot(d.wx_rows, inv) - q * _dot(d.w, inv)
    return ll, np.array([g_p, g_q, g_g], dtype=np.float64)


def _repeat_buyers(x: FloatArray, m: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    rep = (x > 0) & (w > 0)
    if np.any(rep & (m <= 0)):
        i = int(np.flatnonzero(rep & (m <= 0))[0])
        raise ValueError(
            f"repeat buyers must have a positive monetary_value: row {i} has frequency={x[i]:g}, "
            f"monetary_value={m[i]:g}"
        )
    return x[rep], m[rep], w[rep]


def gamma_gamma_log_likelihood(
    p: float,
    q: float,
    gamma: float,
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Total Gamma-Gamma log-likelihood ([N025] eq. 1a) over the repeat buyers (frequency > 0)."""
    _check_positive(p=p, q=q, gamma=gamma)
    x, m, w = _repeat_buyers(*_validate_spend(frequency, monetary_value, weights))
    return _gg_ll_grad(np.array([p, q, gamma]), _gg_prepare(x, m, w), want_grad=False)[0]


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    initial_params: tuple[float, float, float] | None = None,
    require_finite_mean: bool = True,
) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model by maximum likelihood ([FHL05b], [N025]).

    Only repeat buyers carry information (``monetary_value`` is the mean of the
    *repeat* transactions), so rows with ``frequency == 0`` are ignored and the
    whole RFM table can be passed.  Repeat buyers must have a positive
    ``monetary_value``.

    Raises ``ValueError`` with fewer than :data:`GAMMA_GAMMA_MIN_CUSTOMERS`
    repeat buyers, and -- unless ``require_finite_mean=False`` -- when the
    fitted q <= 1 (the population mean spend p*gamma/(q-1) is then undefined).
    """
    x, m, w = _repeat_buyers(*_validate_spend(frequency, monetary_value, weights))
    n = float(w.sum())
    if len(x) == 0 or n < GAMMA_GAMMA_MIN_CUSTOMERS:
        raise ValueError(
            f"too few repeat buyers for the Gamma-Gamma model: {n:g} (need at least {GAMMA_GAMMA_MIN_CUSTOMERS})"
        )
    scale = n / _dot(w, m)  # spend in units of its mean (conditioning)
    scaled = _gg_prepare(x, m * scale, w)

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        ll, grad = _gg_ll_grad(params, scaled)
        return -ll / n, -grad * params / n

    if initial_params is None:
        start: tuple[float, ...] = (1.0, 2.0, 1.0)
    else:
        p0, q0, g0 = initial_params
        _check_positive(p=p0, q=q0, gamma=g0)
        start = (p0, q0, g0 * scale)
    res = _maximise(objective, start, ("p", "q", "gamma"))
    p, q, g_s = (float(v) for v in res.params)
    gamma = g_s / scale
    ll, _ = _gg_ll_grad(np.array([p, q, gamma]), _gg_prepare(x, m, w), want_grad=False)
    if require_finite_mean and q <= 1.0:
        raise ValueError(
            f"fitted q = {q:.4g} <= 1: the Gamma-Gamma population mean spend p*gamma/(q-1) is undefined "
            "(pass require_finite_mean=False to obtain the fit anyway)"
        )
    return GammaGammaFit(
        p=p, q=q, gamma=gamma, log_likelihood=ll, n_customers=int(round(n)),
        converged=res.converged, message=res.message,
    )


def gamma_gamma_conditional_expected_average_value(
    fit: GammaGammaFit,
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
) -> FloatOrArray:
    """E[Z | p, q, gamma, m_x, x] = p (gamma + m_x x) / (p x + q - 1) ([N025] eq. 5).

    A weighted average of the population mean p*gamma/(q-1) and the customer's
    observed mean m_x; for x = 0 it is the population mean (requires q > 1).
    """
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(monetary_value, "monetary_value")
    scalar = x.ndim == 0 and m.ndim == 0
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError as exc:
        raise ValueError(f"frequency and monetary_value have incompatible shapes: {exc}") from exc
    _check_non_negative(x, "frequency")
    _check_non_negative(m, "monetary_value")
    denom = fit.p * x + fit.q - 1.0
    if np.any(denom <= 0):
        raise ValueError(
            f"p*x + q - 1 <= 0 (q = {fit.q:.4g}): the conditional mean spend is undefined"
            + (" for customers without repeat purchases" if np.any((x == 0) & (denom <= 0)) else "")
        )
    vals = fit.p * (fit.gamma + m * x) / denom
    return _out(np.asarray(vals, dtype=np.float64), scalar)


# --------------------------------------------------------------------------- #
# RFM summary and CLV helpers
# --------------------------------------------------------------------------- #
def rfm_summary(
    transactions: pd.DataFrame,
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None,
    observation_end: Any = None,
    freq: str = "W",
) -> pd.DataFrame:
    """Per-customer RFM summary in the ``lifetimes`` convention.

    Transactions are first bucketed into calendar periods of ``freq`` (pandas
    period alias; ``"W"`` weeks by default, ``"D"``, ``"M"`` ...) and summed
    within a period.  Then per customer, in units of that period:

    * ``frequency`` -- number of periods with a purchase after the first one
      (repeat purchase periods);
    * ``recency`` -- last purchase period minus first purchase period;
    * ``T`` -- ``observation_end``'s period minus the first purchase period;
    * ``monetary_value`` -- mean value of the repeat purchase periods (the first
      period is excluded), 0 for one-off buyers (only if ``monetary_col``).

    Transactions after ``observation_end`` (default: the latest transaction)
    are ignored.  Returns a float DataFrame indexed by customer id (sorted).
    """
    needed = [customer_col, datetime_col] + ([monetary_col] if monetary_col is not None else [])
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions is missing column(s) {missing}")
    df = transactions[needed]
    if df[customer_col].isna().any() or df[datetime_col].isna().any():
        raise ValueError(f"{customer_col!r} and {datetime_col!r} must not contain missing values")
    stamps = pd.DatetimeIndex(_to_datetime(df[datetime_col]))
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    ordinals = np.asarray(stamps.to_period(freq).asi8, dtype=np.int64)
    if observation_end is None:
        end_ordinal = int(ordinals.max()) if len(ordinals) else 0
    else:
        end = pd.Timestamp(observation_end)
        if end.tzinfo is not None:
            end = end.tz_localize(None)
        end_ordinal = int(end.to_period(freq).ordinal)
    keep = ordinals <= end_ordinal
    cols: dict[str, Any] = {"customer": df[customer_col].to_numpy()[keep], "period": ordinals[keep]}
    if monetary_col is not None:
        values = df[monetary_col].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.any(~np.isfinite(values)):
            raise ValueError(f"{monetary_col!r} contains missing or infinite values")
        cols["value"] = values[keep]
    frame = pd.DataFrame(cols)
    out_cols = ["frequency", "recency", "T"] + (["monetary_value"] if monetary_col is not None else [])
    if frame.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in out_cols})
        empty.index.name = customer_col
        return empty
    per = (
        frame.groupby(["customer", "period"], sort=True).sum()
        if monetary_col is not None
        else frame.drop_duplicates().set_index(["customer", "period"]).sort_index()
    )
    cust = per.index.get_level_values(0)
    period = per.index.get_level_values(1).to_numpy(dtype=np.int64)
    is_first = ~cust.duplicated()
    grp = pd.DataFrame({"period": period}, index=cust).groupby(level=0, sort=True)["period"]
    first_p = grp.min()
    last_p = grp.max()
    count = grp.size()
    result = pd.DataFrame(
        {
            "frequency": (count - 1).astype(np.float64),
            "recency": (last_p - first_p).astype(np.float64),
            "T": (end_ordinal - first_p).astype(np.float64),
        }
    )
    if monetary_col is not None:
        repeat = pd.Series(per["value"].to_numpy()[~is_first], index=cust[~is_first])
        mean_repeat = repeat.groupby(level=0).mean()
        result["monetary_value"] = mean_repeat.reindex(result.index).fillna(0.0).astype(np.float64)
    result.index.name = customer_col
    return result[out_cols]


def _to_datetime(values: pd.Series) -> pd.Series:
    """Datetimes as-is; strings parsed as ISO 8601 (mixed precision allowed), else inferred."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return pd.to_datetime(values, format="mixed")


def _rfm_columns(rfm: pd.DataFrame, cols: Sequence[str]) -> list[FloatArray]:
    missing = [c for c in cols if c not in rfm.columns]
    if missing:
        raise ValueError(f"RFM DataFrame is missing column(s) {missing}")
    return [rfm[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in cols]


def fit_bgnbd_rfm(
    rfm: pd.DataFrame,
    *,
    weights_col: str | None = None,
    initial_params: tuple[float, float, float, float] | None = None,
) -> BGNBDFit:
    """:func:`fit_bgnbd` on an :func:`rfm_summary`-style DataFrame (``frequency``, ``recency``, ``T``)."""
    x, tx, tt = _rfm_columns(rfm, ["frequency", "recency", "T"])
    w = _rfm_columns(rfm, [weights_col])[0] if weights_col is not None else None
    return fit_bgnbd(x, tx, tt, w, initial_params=initial_params)


def fit_gamma_gamma_rfm(
    rfm: pd.DataFrame,
    *,
    weights_col: str | None = None,
    initial_params: tuple[float, float, float] | None = None,
    require_finite_mean: bool = True,
) -> GammaGammaFit:
    """:func:`fit_gamma_gamma` on an RFM DataFrame (``frequency``, ``monetary_value``); one-off buyers are skipped."""
    x, m = _rfm_columns(rfm, ["frequency", "monetary_value"])
    w = _rfm_columns(rfm, [weights_col])[0] if weights_col is not None else None
    return fit_gamma_gamma(x, m, w, initial_params=initial_params, require_finite_mean=require_finite_mean)


def bgnbd_gg_clv(
    bgnbd_fit: BGNBDFit,
    gg_fit: GammaGammaFit,
    rfm: pd.DataFrame,
    horizon_periods: int,
    discount_rate_per_period: float,
    margin: float = 1.0,
    *,
    return_components: bool = False,
) -> pd.Series | pd.DataFrame:
    """Discounted expected margin over a horizon (BG/NBD x Gamma-Gamma), per customer.

        CLV_i = margin * E[Z_i] * sum_{k=1..H} (E[Y_i(k)] - E[Y_i(k-1)]) / (1+d)^k

    with E[Y_i(k)] the BG/NBD conditional expectation (eq. 10 of [FHL05a]) and
    E[Z_i] the Gamma-Gamma conditional mean spend ([N025] eq. 5) -- the
    population mean p*gamma/(q-1) for one-off buyers (frequency 0), which is
    how they get a value at all.  Periods are the RFM time unit (e.g. weeks);
    ``discount_rate_per_period`` must be expressed in that unit.  This is the
    discrete-period scheme of ``lifetimes``' ``customer_lifetime_value``.

    Returns a Series ``clv`` indexed like ``rfm``; with
    ``return_components=True`` a DataFrame with ``expected_value``,
    ``discounted_expected_purchases`` and ``clv``.
    """
    if int(horizon_periods) != horizon_periods or horizon_periods < 1:
        raise ValueError(f"horizon_periods must be a positive integer, got {horizon_periods!r}")
    if not (math.isfinite(discount_rate_per_period) and discount_rate_per_period >= 0):
        raise ValueError(f"discount_rate_per_period must be >= 0, got {discount_rate_per_period!r}")
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    x, tx, tt, m = _rfm_columns(rfm, ["frequency", "recency", "T", "monetary_value"])
    x, tx, tt, _ = _validate_rfm(x, tx, tt)
    value = np.asarray(gamma_gamma_conditional_expected_average_value(gg_fit, x, m), dtype=np.float64)
    horizon = int(horizon_periods)
    k = np.arange(0, horizon + 1, dtype=np.float64)
    disc = np.power(1.0 + discount_rate_per_period, -k[1:])
    (ux, utx, uT), _, inverse = _compress([x, tx, tt], None)
    r, alpha, a, b = bgnbd_fit.r, bgnbd_fit.alpha, bgnbd_fit.a, bgnbd_fit.b
    dep = np.empty(len(ux), dtype=np.float64)
    chunk = max(1, 2_000_000 // (horizon + 1))
    for start in range(0, len(ux), chunk):
        sl = slice(start, start + chunk)
        xs, txs, Ts = ux[sl, None], utx[sl], uT[sl, None]
        growth = _bgnbd_growth(
            r, alpha, a, b,
            np.broadcast_to(k[None, :], (len(txs), horizon + 1)),
            np.broadcast_to(xs, (len(txs), horizon + 1)),
            np.broadcast_to(Ts, (len(txs), horizon + 1)),
        )
        alive = _bgnbd_p_alive(r, alpha, a, b, ux[sl], txs, uT[sl])
        dep[sl] = np.einsum("ij,j->i", np.diff(growth, axis=1), disc) * alive
    discounted = dep[inverse]
    clv = margin * value * discounted
    if return_components:
        return pd.DataFrame(
            {"expected_value": value, "discounted_expected_purchases": discounted, "clv": clv}, index=rfm.index
        )
    return pd.Series(clv, index=rfm.index, name="clv")
