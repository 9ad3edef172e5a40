"""Validation tests for ``orchestration.analytics.clv_models``.

* sBG: reproduces Fader & Hardie (2007), "How to Project Customer Retention",
  on the published 12-year survival data of the "regular" and "high end"
  segments (1,000 customers each, calibration on years 0-7), plus simulation
  recovery from many right-censored cohorts and DERL (Fader & Hardie 2010).
* BG/NBD (Fader, Hardie & Lee 2005): the closed-form individual likelihood
  against direct numerical integration over (lambda, p), the Excel-sheet value
  E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226 at the paper's CDNOW estimates,
  parameter recovery from the generative process and Monte-Carlo checks of
  eq. 9, eq. 10 and P(alive).
* Gamma-Gamma: likelihood against numerical integration, recovery and a
  Monte-Carlo check of the conditional mean spend.
* rfm_summary semantics (lifetimes convention), the CLV helper and the
  ValueErrors on degenerate input.

The CDNOW customer summary itself is not in this repository, so the BG/NBD /
Gamma-Gamma parameter estimates of the papers are not re-derived here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from orchestration.analytics.clv_models import (
    BGNBDFit,
    GammaGammaFit,
    SBGFit,
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases,
    bgnbd_gg_clv,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    compress_rfm,
    fit_bgnbd,
    fit_bgnbd_rfm,
    fit_gamma_gamma,
    fit_gamma_gamma_rfm,
    fit_sbg,
    fit_sbg_cohorts,
    gamma_gamma_conditional_expected_average_value,
    gamma_gamma_log_likelihood,
    rfm_summary,
    sbg_churn_probability,
    sbg_discounted_expected_residual_lifetime,
    sbg_expected_discounted_periods,
    sbg_log_likelihood,
    sbg_retention_rate,
    sbg_survival,
)

# --------------------------------------------------------------------------- #
# Fader & Hardie (2007): customers alive at the start of years 0..12.
# (Originally from Berry & Linoff 2004; years 0-7 are the calibration period.)
# --------------------------------------------------------------------------- #
REGULAR_12Y = np.array([1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173], dtype=float)
HIGH_END_12Y = np.array([1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394], dtype=float)

# Maximum-likelihood estimates printed in the paper (3 decimals) and the
# corresponding log-likelihoods.  NB: alpha=0.704, beta=1.182 belong to the
# *regular* segment and alpha=0.668, beta=3.806 to the *high end* segment
# (the high end segment churns less: E[theta] = 0.149 vs 0.373).
PAPER: dict[str, dict[str, Any]] = {
    "regular": {"data": REGULAR_12Y, "alpha": 0.704, "beta": 1.182, "ll": -1680.3},
    "high_end": {"data": HIGH_END_12Y, "alpha": 0.668, "beta": 3.806, "ll": -1611.2},
}

# BG/NBD estimates for the CDNOW sample (Fader, Hardie & Lee 2005, weeks) and
# Gamma-Gamma estimates for the same customers (Fader & Hardie 2013 note).
CDNOW_BGNBD = (0.243, 4.414, 0.793, 2.426)
CDNOW_GG = (6.25, 3.74, 15.44)


# --------------------------------------------------------------------------- #
# simulation helpers (the models' generative processes)
# --------------------------------------------------------------------------- #
def simulate_bgnbd(
    rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float, T: np.ndarray
) -> dict[str, np.ndarray]:
    """BG/NBD customers observed over (0, T].

    lambda ~ Gamma(r, rate alpha); p ~ Beta(a, b).  The customer drops out
    immediately after repeat purchase J ~ Geometric(p) (J >= 1) and buys as a
    Poisson(lambda) process until then, so x = min(N(T), J) and t_x is the x-th
    arrival of the N(T) uniform arrivals, a T * Beta(x, N - x + 1) order
    statistic.  The customer is alive at T iff J > N(T).
    """
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    J = rng.geometric(p)
    N = rng.poisson(lam * T)
    x = np.minimum(N, J)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(N - x + 1, 1)), 0.0)
    return {"x": x.astype(float), "tx": tx, "T": T, "lam": lam, "J": J, "N": N, "alive": J > N}


def simulate_forward(rng: np.random.Generator, sim: dict[str, np.ndarray], t: float) -> np.ndarray:
    """Repeat purchases in (T, T + t] of the simulated customers (memoryless Poisson process)."""
    remaining = sim["J"] - sim["N"]  # purchases left before dropping out (if alive)
    return np.where(sim["alive"], np.minimum(rng.poisson(sim["lam"] * t), remaining), 0)


def assert_within_se(est: float, truth: float, se: float, k: float = 4.0) -> None:
    assert abs(est - truth) <= k * se + 1e-12, f"{est} vs {truth} (k*SE = {k * se})"


# --------------------------------------------------------------------------- #
# sBG -- Fader & Hardie (2007) reproduction
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_reproduces_fader_hardie_2007_estimates(segment: str) -> None:
    ref = PAPER[segment]
    fit = fit_sbg(ref["data"][:8])  # calibration: years 0..7
    assert fit.converged, fit.message
    assert round(fit.alpha, 3) == ref["alpha"]
    assert round(fit.beta, 3) == ref["beta"]
    assert round(fit.log_likelihood, 1) == ref["ll"]
    assert fit.n_customers == 1000 and fit.n_cohorts == 1


@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_projection_years_8_to_12(segment: str) -> None:
    ref = PAPER[segment]
    fit = fit_sbg(ref["data"][:8])
    years = np.arange(8, 13)
    projected = 1000 * np.asarray(fit.survival(years))
    # the projection from the fitted model equals the closed form S(t) = B(a, b+t)/B(a, b)
    # at the paper's printed estimates (to the printed 3-decimal precision of S(t))
    printed = np.exp(special.betaln(ref["alpha"], ref["beta"] + years) - special.betaln(ref["alpha"], ref["beta"]))
    np.testing.assert_allclose(projected / 1000, printed, atol=5e-4)
    # ...and tracks the actual survivors of the 5 holdout years closely (the paper's point):
    actual = ref["data"][8:]
    assert np.max(np.abs(projected - actual)) < 17  # < 1.7% of the original cohort
    assert np.all(np.abs(projected - actual) / actual < 0.045)


def test_sbg_high_end_projection_matches_published_reimplementation() -> None:
    # Survival for years 8..12 of the high end segment, printed to 3 decimals in the
    # README of jdmaturen/shifted_beta_geometric_py (same data, same model).
    fit = fit_sbg(HIGH_END_12Y[:8])
    np.testing.assert_allclose(
        np.round(fit.survival(np.arange(8, 13)), 3), [0.460, 0.436, 0.414, 0.395, 0.378], atol=1e-12
    )


def test_sbg_log_likelihood_matches_direct_formula() -> None:
    alpha, beta = 1.3, 2.7
    data = HIGH_END_12Y[:8]
    direct = 0.0
    for t in range(1, 8):
        p_t = math.exp(math.lgamma(alpha + 1) + math.lgamma(beta + t - 1) - math.lgamma(alpha + beta + t)
                       - (math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)))
        direct += (data[t - 1] - data[t]) * math.log(p_t)
    s_7 = math.prod((beta + t - 1) / (alpha + beta + t - 1) for t in range(1, 8))
    direct += data[7] * math.log(s_7)
    assert sbg_log_likelihood(alpha, beta, data) == pytest.approx(direct, rel=1e-12)
    # alpha = beta = 1 for the high end data: -2.1155 per customer (cf. the -2.115 check of
    # jdmaturen/shifted_beta_geometric_py)
    assert sbg_log_likelihood(1.0, 1.0, data) == pytest.approx(-2115.5455, abs=1e-3)


def test_sbg_pointwise_functions_are_consistent() -> None:
    a, b = 0.704, 1.182
    t = np.arange(1, 30)
    s = np.asarray(sbg_survival(a, b, np.arange(0, 30)))
    assert s[0] == pytest.approx(1.0)
    np.testing.assert_allclose(sbg_churn_probability(a, b, t), s[:-1] - s[1:], rtol=1e-10)
    np.testing.assert_allclose(sbg_retention_rate(a, b, t), s[1:] / s[:-1], rtol=1e-10)
    # retention rates increase over time (heterogeneity-driven sorting, FH07 eq. 8)
    assert np.all(np.diff(np.asarray(sbg_retention_rate(a, b, t))) > 0)
    assert isinstance(sbg_survival(a, b, 3), float)
    fit = SBGFit.from_params(a, b)
    assert fit.survival(3) == sbg_survival(a, b, 3)
    assert fit.mean_churn_probability == pytest.approx(a / (a + b))


def _derl_by_summation(alpha: float, beta: float, n: int, d: float, terms: int = 20000) -> float:
    k = np.arange(terms, dtype=float)
    log_ratio = special.betaln(alpha, beta + n + 1 + k) - special.betaln(alpha, beta + n)
    return float(np.sum(np.exp(log_ratio - k * np.log1p(d))))


@pytest.mark.parametrize(
    ("alpha", "beta", "n", "d"),
    [(0.668, 3.806, 7, 0.10), (0.704, 1.182, 0, 0.10), (0.704, 1.182, 35, 0.01), (3.2, 0.4, 4, 0.0083), (0.2, 15.0, 100, 0.05),
     (5.8, 1.28, 138, 0.0002), (0.3, 0.96, 172, 0.0023), (2.0, 3.0, 10, 0.02)],
)
def test_sbg_derl_equals_discounted_sum(alpha: float, beta: float, n: int, d: float) -> None:
    closed = sbg_discounted_expected_residual_lifetime(alpha, beta, n, d)
    assert closed == pytest.approx(_derl_by_summation(alpha, beta, n, d), rel=1e-9)
    # the finite-horizon sum discounts the first period: H -> inf gives DERL / (1 + d)
    long_h = sbg_expected_discounted_periods(alpha, beta, n, d, horizon=20000)
    assert long_h == pytest.approx(closed / (1 + d), rel=1e-9)


def test_sbg_derl_high_end_value() -> None:
    # 7.530 for the high end segment after 7 renewals at d = 10% (README of
    # jdmaturen/shifted_beta_geometric_py, which implements the FH10 formula).
    fit = fit_sbg(HIGH_END_12Y[:8])
    assert round(float(sbg_discounted_expected_residual_lifetime(fit.alpha, fit.beta, 7, 0.10)), 3) == 7.530
    # a customer who has renewed more often is worth more (retention rises with tenure)
    derl = np.asarray(sbg_discounted_expected_residual_lifetime(fit.alpha, fit.beta, np.arange(10), 0.10))
    assert np.all(np.diff(derl) > 0)


def test_sbg_expected_discounted_periods_vectorised() -> None:
    a, b, d = 0.704, 1.182, 0.01
    n = np.array([0, 3, 3, 12, 0, 71])
    for horizon in (12, 24, 36):
        got = np.asarray(sbg_expected_discounted_periods(a, b, n, d, horizon))
        for i, ni in enumerate(n):
            expected = sum(
                float(sbg_survival(a, b, ni + k)) / float(sbg_survival(a, b, ni)) / (1 + d) ** k
                for k in range(1, horizon + 1)
            )
            assert got[i] == pytest.approx(expected, rel=1e-12)
    assert sbg_expected_discounted_periods(a, b, 5, 0.0, 0) == 0.0
    assert sbg_expected_discounted_periods(a, b, 5, 0.0, 3) < 3.0


# --------------------------------------------------------------------------- #
# sBG -- many right-censored cohorts
# --------------------------------------------------------------------------- #
def _simulate_cohorts(rng: np.random.Generator, alpha: float, beta: float, n_cohorts: int, max_age: int) -> pd.DataFrame:
    frames = []
    for k in range(n_cohorts):
        age = min(k + 1, max_age)
        size = int(rng.integers(800, 3000))
        churn_period = rng.geometric(rng.beta(alpha, beta, size))
        periods = np.arange(age + 1)
        alive = (churn_period[None, :] > periods[:, None]).sum(axis=1)
        frames.append(pd.DataFrame({"cohort": f"2020-{k:03d}", "period": periods, "alive": alive}))
    return pd.concat(frames, ignore_index=True)


def test_sbg_cohorts_recovers_parameters_from_censored_cohorts() -> None:
    rng = np.random.default_rng(7)
    alpha, beta = 0.9, 2.5
    long = _simulate_cohorts(rng, alpha, beta, n_cohorts=60, max_age=36)
    fit = fit_sbg_cohorts(long.sample(frac=1.0, random_state=1))  # row order must not matter
    assert fit.converged, fit.message
    assert fit.n_cohorts == 60
    assert fit.n_customers == int(long.loc[long["period"] == 0, "alive"].sum())
    assert fit.alpha == pytest.approx(alpha, rel=0.10)
    assert fit.beta == pytest.approx(beta, rel=0.10)


def test_sbg_cohort_input_formats_agree() -> None:
    rng = np.random.default_rng(3)
    long = _simulate_cohorts(rng, 0.7, 1.2, n_cohorts=12, max_age=10)
    fit_long = fit_sbg_cohorts(long)
    wide = long.pivot(index="cohort", columns="period", values="alive").to_numpy(dtype=float)
    fit_wide = fit_sbg_cohorts(wide)
    fit_wide_df = fit_sbg_cohorts(long.pivot(index="cohort", columns="period", values="alive"))
    assert fit_wide_df.log_likelihood == pytest.approx(fit_wide.log_likelihood, rel=1e-12)
    fit_sizes = fit_sbg_cohorts(wide[:, 1:], cohort_sizes=wide[:, 0])
    sizes = long[long["period"] == 0].set_index("cohort")["alive"]
    fit_mapping = fit_sbg_cohorts(long[long["period"] > 0], cohort_sizes=sizes.to_dict())
    for other in (fit_wide, fit_sizes, fit_mapping):
        assert other.alpha == pytest.approx(fit_long.alpha, rel=1e-9)
        assert other.beta == pytest.approx(fit_long.beta, rel=1e-9)
        assert other.log_likelihood == pytest.approx(fit_long.log_likelihood, rel=1e-12)
    # one cohort through the cohort API == the single-curve API
    one = pd.DataFrame({"cohort": "x", "period": range(8), "alive": HIGH_END_12Y[:8]})
    assert fit_sbg_cohorts(one).log_likelihood == pytest.approx(fit_sbg(HIGH_END_12Y[:8]).log_likelihood)
    # renamed columns
    renamed = long.rename(columns={"cohort": "acq_month", "period": "m", "alive": "active"})
    fit_renamed = fit_sbg_cohorts(renamed, cohort_col="acq_month", period_col="m", alive_col="active")
    assert fit_renamed.alpha == pytest.approx(fit_long.alpha, rel=1e-9)


def test_sbg_cohort_likelihood_is_sum_of_censored_curves() -> None:
    # A cohort observed for only 4 years contributes its 4-year curve with the
    # year-4 survivors right-censored; cohorts add up in the log-likelihood.
    full, young = HIGH_END_12Y[:8], REGULAR_12Y[:5]
    wide = np.vstack([full, np.r_[young, [np.nan] * 3]])
    fit = fit_sbg_cohorts(wide)
    assert fit.converged and fit.n_customers == 2000 and fit.n_cohorts == 2
    expected = sbg_log_likelihood(fit.alpha, fit.beta, full) + sbg_log_likelihood(fit.alpha, fit.beta, young)
    assert fit.log_likelihood == pytest.approx(expected, rel=1e-12)
    # duplicating a cohort doubles the likelihood but leaves the MLE unchanged
    twice = fit_sbg_cohorts(np.vstack([full, full]))
    single = fit_sbg(full)
    assert twice.alpha == pytest.approx(single.alpha, rel=1e-6)
    assert twice.beta == pytest.approx(single.beta, rel=1e-6)
    assert twice.log_likelihood == pytest.approx(2 * single.log_likelihood, rel=1e-12)


# --------------------------------------------------------------------------- #
# sBG -- degenerate input
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("survivors", "match"),
    [
        ([1000, 631], "at least 2 observed periods"),
        ([1000], "at least 2 observed periods"),
        ([1000, 1000, 1000, 1000], "no customer churned"),
        ([1000, 0, 0, 0], "everyone churned in period 1"),
        ([1000, 631, 700, 382], "non-increasing"),
        ([1000, -5, -6], "negative"),
        ([1000, np.nan, 400], "NaN"),
        ([[1000, 600, 400]], "one-dimensional"),
        ([0, 0, 0], "empty"),
    ],
)
def test_sbg_degenerate_input_raises(survivors: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_sbg(survivors)


def test_sbg_cohort_degenerate_input_raises() -> None:
    good = pd.DataFrame({"cohort": [1, 1, 1], "period": [0, 1, 2], "alive": [100, 60, 40]})
    with pytest.raises(ValueError, match="no period-0 row"):
        fit_sbg_cohorts(good[good["period"] > 0])
    with pytest.raises(ValueError, match="missing period"):
        fit_sbg_cohorts(good[good["period"] != 1])
    with pytest.raises(ValueError, match="duplicate period"):
        fit_sbg_cohorts(pd.concat([good, good.iloc[[2]]]))
    with pytest.raises(ValueError, match="NaN gap"):
        fit_sbg_cohorts(np.array([[100, np.nan, 40.0]]))
    with pytest.raises(ValueError, match="at least 2 observed periods"):
        fit_sbg_cohorts(np.array([[100, 50.0], [200, 120.0]]))  # every cohort only 1 month old
    with pytest.raises(ValueError, match="everyone churned in period 1"):
        fit_sbg_cohorts(np.array([[100, 0, 0.0], [200, 120.0, np.nan]]))
    with pytest.raises(ValueError, match="cohort_sizes disagrees"):
        fit_sbg_cohorts(good, cohort_sizes={1: 99})
    with pytest.raises(ValueError, match="2-D"):
        fit_sbg_cohorts(np.array([100, 60, 40.0]))
    # a long table with unexpected column names must not be mistaken for a wide matrix
    with pytest.raises(ValueError, match="missing column"):
        fit_sbg_cohorts(good.rename(columns={"cohort": "acq_month"}))
    with pytest.raises(ValueError, match="wide with period columns"):
        fit_sbg_cohorts(good.rename(columns={"cohort": "a", "period": "m", "alive": "n"}))


# --------------------------------------------------------------------------- #
# BG/NBD
# --------------------------------------------------------------------------- #
def _individual_likelihood_by_integration(x: int, tx: float, T: float, r: float, alpha: float, a: float, b: float) -> float:
    """Integrate L(lambda, p | x, t_x, T) over Gamma(r, alpha) x Beta(a, b) numerically.

    L = (1-p)^x lambda^x e^{-lambda T} + delta(x>0) p (1-p)^(x-1) lambda^x e^{-lambda t_x}
    (FHL05a eq. 3).  Integrated over the probability scale (u, v) in (0, 1)^2 via the
    quantile functions, which removes the densities' singularities at 0.
    """

    def inner(v: float) -> float:
        p = float(special.betaincinv(a, b, v))  # Beta(a, b) quantile

        def integrand(u: float) -> float:
            lam = float(special.gammaincinv(r, u)) / alpha  # Gamma(r, rate alpha) quantile
            val = (1 - p) ** x * lam**x * math.exp(-lam * T)
            if x > 0:
                val += p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * tx)
            return val

        return float(integrate.quad(integrand, 0, 1, limit=200, epsabs=0, epsrel=1e-10)[0])

    return float(integrate.quad(inner, 0, 1, limit=200, epsabs=0, epsrel=1e-9)[0])


@pytest.mark.parametrize(("x", "tx", "T"), [(2, 30.43, 38.86), (0, 0.0, 38.86), (7, 12.5, 30.0)])
def test_bgnbd_individual_log_likelihood_matches_direct_integration(x: int, tx: float, T: float) -> None:
    r, alpha, a, b = CDNOW_BGNBD
    direct = math.log(_individual_likelihood_by_integration(x, tx, T, r, alpha, a, b))
    assert bgnbd_log_likelihood(r, alpha, a, b, [x], [tx], [T]) == pytest.approx(direct, abs=2e-6)


def test_bgnbd_conditional_expectation_matches_hardie_excel_value() -> None:
    # FHL05a / note 004 Excel sheet: customer 0001 of CDNOW, 39 weeks ahead -> 1.226
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)
    assert bgnbd_conditional_expected_purchases(fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_conditional_expectation_equals_direct_formula() -> None:
    # Our implementation uses Euler's transformation of 2F1; compare with eq. 10 as printed.
    r, alpha, a, b = CDNOW_BGNBD
    fit = BGNBDFit.from_params(r, alpha, a, b)
    for x, tx, T, t in [(0, 0.0, 20.0, 10.0), (1, 3.0, 35.0, 52.0), (5, 30.0, 38.0, 39.0), (12, 37.0, 38.0, 104.0)]:
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
        assert bgnbd_conditional_expected_purchases(fit, t, x, tx, T) == pytest.approx(num / den, rel=1e-9)


@pytest.fixture(scope="module")
def bgnbd_sim() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240601)
    n = 50_000
    T = rng.uniform(20.0, 80.0, n)  # varied customer ages (weeks)
    return simulate_bgnbd(rng, n, *CDNOW_BGNBD, T)


def test_bgnbd_recovers_parameters(bgnbd_sim: dict[str, np.ndarray]) -> None:
    fit = fit_bgnbd(bgnbd_sim["x"], bgnbd_sim["tx"], bgnbd_sim["T"])
    assert fit.converged, fit.message
    assert fit.n_customers == 50_000
    for est, truth in zip((fit.r, fit.alpha, fit.a, fit.b), CDNOW_BGNBD):
        assert est == pytest.approx(truth, rel=0.10)
    # the MLE beats the true parameters in likelihood (it is a maximum)
    ll_true = bgnbd_log_likelihood(*CDNOW_BGNBD, bgnbd_sim["x"], bgnbd_sim["tx"], bgnbd_sim["T"])
    assert fit.log_likelihood >= ll_true
    assert fit.log_likelihood == pytest.approx(
        bgnbd_log_likelihood(fit.r, fit.alpha, fit.a, fit.b, bgnbd_sim["x"], bgnbd_sim["tx"], bgnbd_sim["T"])
    )


def test_bgnbd_weights_equal_compressed_rows(bgnbd_sim: dict[str, np.ndarray]) -> None:
    x = bgnbd_sim["x"][:20_000]
    tx = np.round(bgnbd_sim["tx"][:20_000])  # whole weeks -> many identical rows
    T = np.round(bgnbd_sim["T"][:20_000])
    raw = fit_bgnbd(x, tx, T)
    comp = compress_rfm(x, tx, T)
    assert len(comp) < 20_000 / 3 and comp["weight"].sum() == 20_000
    weighted = fit_bgnbd(comp["frequency"], comp["recency"], comp["T"], comp["weight"])
    assert weighted.log_likelihood == pytest.approx(raw.log_likelihood, rel=1e-10)
    for field in ("r", "alpha", "a", "b"):
        assert getattr(weighted, field) == pytest.approx(getattr(raw, field), rel=1e-5)
    assert weighted.n_customers == raw.n_customers == 20_000


def test_bgnbd_expected_purchases_eq9_matches_simulation() -> None:
    rng = np.random.default_rng(11)
    n, t = 400_000, 52.0
    sim = simulate_bgnbd(rng, n, *CDNOW_BGNBD, np.full(n, t))
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)
    se = sim["x"].std() / math.sqrt(n)
    assert_within_se(float(bgnbd_expected_purchases(fit, t)), float(sim["x"].mean()), se)
    # eq. 9 is eq. 10 for a brand-new customer (x = t_x = T = 0)
    ts = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        bgnbd_expected_purchases(fit, ts), bgnbd_conditional_expected_purchases(fit, ts, 0, 0, 0), rtol=1e-12
    )
    assert bgnbd_expected_purchases(fit, 0.0) == 0.0


def test_bgnbd_conditional_expectation_matches_forward_simulation(bgnbd_sim: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(99)
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)  # true parameters: isolates the formula
    for t in (13.0, 52.0):
        future = simulate_forward(rng, bgnbd_sim, t)
        pred = np.asarray(bgnbd_conditional_expected_purchases(fit, t, bgnbd_sim["x"], bgnbd_sim["tx"], bgnbd_sim["T"]))
        x = bgnbd_sim["x"]
        for lo, hi in [(0, 0), (1, 1), (2, 3), (4, 7), (8, 10_000)]:
            m = (x >= lo) & (x <= hi)
            se = future[m].std() / math.sqrt(m.sum())
            assert_within_se(float(pred[m].mean()), float(future[m].mean()), se)
        # also by recency within repeat buyers (P(alive) drives the prediction)
        rec_share = np.where(x > 0, bgnbd_sim["tx"] / bgnbd_sim["T"], np.nan)
        for flo, fhi in [(0.0, 0.5), (0.5, 0.9), (0.9, 1.0)]:
            m = (x > 0) & (rec_share >= flo) & (rec_share <= fhi)
            se = future[m].std() / math.sqrt(m.sum())
            assert_within_se(float(pred[m].mean()), float(future[m].mean()), se)


def test_bgnbd_probability_alive(bgnbd_sim: dict[str, np.ndarray]) -> None:
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)
    x, tx, T, alive = bgnbd_sim["x"], bgnbd_sim["tx"], bgnbd_sim["T"], bgnbd_sim["alive"]
    pa = np.asarray(bgnbd_probability_alive(fit, x, tx, T))
    assert np.all((pa >= 0) & (pa <= 1))
    assert np.all(pa[x == 0] == 1.0)  # BG/NBD: no repeat purchase -> cannot have dropped out
    for lo, hi in [(1, 1), (2, 3), (4, 7), (8, 10_000)]:
        m = (x >= lo) & (x <= hi)
        se = math.sqrt(pa[m].mean() * (1 - pa[m].mean()) / m.sum())
        assert_within_se(float(pa[m].mean()), float(alive[m].mean()), se)
    # grid: decreasing in time since last purchase, scalar in -> float out
    grid = [bgnbd_probability_alive(fit, 3, rec, 40.0) for rec in (40.0, 30.0, 10.0, 1.0)]
    assert all(isinstance(v, float) for v in grid) and grid == sorted(grid, reverse=True)
    assert bgnbd_probability_alive(fit, 0, 0, 100.0) == 1.0


def test_bgnbd_prediction_compression_path_matches_rowwise() -> None:
    rng = np.random.default_rng(5)
    n = 30_000  # above the internal compression threshold
    T = rng.integers(1, 60, n).astype(float)
    sim = simulate_bgnbd(rng, n, *CDNOW_BGNBD, T)
    tx = np.round(sim["tx"])
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)
    full = np.asarray(bgnbd_conditional_expected_purchases(fit, 26.0, sim["x"], tx, T))
    sub = slice(0, 500)
    part = np.asarray(bgnbd_conditional_expected_purchases(fit, 26.0, sim["x"][sub], tx[sub], T[sub]))
    np.testing.assert_allclose(full[sub], part, rtol=1e-13)


@pytest.mark.parametrize(
    ("freq", "rec", "T", "weights", "match"),
    [
        ([0, 0, 0], [0, 0, 0], [10, 20, 30], None, "no repeat buyers"),
        ([1, 2], [1, 2, 3], [5, 5, 5], None, "same length"),
        ([1, 2], [6, 2], [5, 5], None, "recency must not exceed T"),
        ([1, -2], [1, 2], [5, 5], None, "non-negative"),
        ([1, 2], [1, 2], [5, -5], None, "non-negative"),
        ([1.5, 2], [1, 2], [5, 5], None, "integer-valued"),
        ([0, 2], [1, 2], [5, 5], None, "recency must be 0 when frequency is 0"),
        ([1, 2], [1, 2], [5, 5], [1, 2, 3], "weights has length"),
        ([1, 2], [1, 2], [5, 5], [1, -1], "non-negative"),
        ([], [], [], None, "no customers"),
        ([1, np.nan], [1, 2], [5, 5], None, "NaN"),
    ],
)
def test_bgnbd_degenerate_input_raises(freq: list[float], rec: list[float], T: list[float], weights: list[float] | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_bgnbd(freq, rec, T, weights)


def test_bgnbd_prediction_input_validation() -> None:
    fit = BGNBDFit.from_params(*CDNOW_BGNBD)
    with pytest.raises(ValueError, match="recency must not exceed T"):
        bgnbd_conditional_expected_purchases(fit, 10, [1], [20], [10])
    with pytest.raises(ValueError, match="t must be non-negative"):
        bgnbd_conditional_expected_purchases(fit, -1, [1], [2], [10])
    with pytest.raises(ValueError, match="incompatible shapes"):
        bgnbd_probability_alive(fit, [1, 2], [1, 2, 3], [5, 5])
    with pytest.raises(ValueError, match="positive"):
        BGNBDFit.from_params(0.2, -1.0, 0.5, 1.0)


# --------------------------------------------------------------------------- #
# Gamma-Gamma
# --------------------------------------------------------------------------- #
def simulate_spend(rng: np.random.Generator, x: np.ndarray, p: float, q: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """nu ~ Gamma(q, rate gamma); each transaction ~ Gamma(p, rate nu); m_x = mean of x of them."""
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    m = rng.gamma(p * x, 1.0 / (nu * x))  # the mean of x iid Gamma(p, nu) values
    return m, nu


@pytest.fixture(scope="module")
def gg_sim() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    n = 30_000
    x = rng.integers(1, 12, n).astype(float)
    m, nu = simulate_spend(rng, x, *CDNOW_GG)
    return {"x": x, "m": m, "nu": nu}


def test_gamma_gamma_log_likelihood_matches_direct_integration() -> None:
    p, q, g = CDNOW_GG
    for x, m in [(1, 20.0), (4, 35.5), (10, 12.0)]:
        # m_x | nu ~ Gamma(p x, rate nu x);  nu ~ Gamma(q, rate g)
        direct = integrate.quad(
            lambda nu: stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / g),
            0, np.inf, epsabs=0, epsrel=1e-11, limit=200,
        )[0]
        assert gamma_gamma_log_likelihood(p, q, g, [x], [m]) == pytest.approx(math.log(direct), abs=1e-8)


def test_gamma_gamma_recovers_parameters(gg_sim: dict[str, np.ndarray]) -> None:
    # one-off buyers (frequency 0, monetary 0) in the input are ignored
    x = np.r_[gg_sim["x"], np.zeros(500)]
    m = np.r_[gg_sim["m"], np.zeros(500)]
    fit = fit_gamma_gamma(x, m)
    assert fit.converged, fit.message
    assert fit.n_customers == 30_000
    for est, truth in zip((fit.p, fit.q, fit.gamma), CDNOW_GG):
        assert est == pytest.approx(truth, rel=0.10)
    assert fit.population_mean_value == pytest.approx(fit.p * fit.gamma / (fit.q - 1))
    assert fit.log_likelihood >= gamma_gamma_log_likelihood(*CDNOW_GG, gg_sim["x"], gg_sim["m"])


def test_gamma_gamma_conditional_mean_matches_simulation(gg_sim: dict[str, np.ndarray]) -> None:
    fit = GammaGammaFit.from_params(*CDNOW_GG)
    x, m, nu = gg_sim["x"], gg_sim["m"], gg_sim["nu"]
    pred = np.asarray(gamma_gamma_conditional_expected_average_value(fit, x, m))
    true_mean = CDNOW_GG[0] / nu  # each customer's true expected spend per transaction
    edges = np.quantile(pred, np.linspace(0, 1, 11))
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (pred >= lo) & (pred <= hi)
        se = true_mean[sel].std() / math.sqrt(sel.sum())
        assert_within_se(float(pred[sel].mean()), float(true_mean[sel].mean()), se)
    # closed form: shrinkage between population mean and observed mean
    p, q, g = CDNOW_GG
    w = p * 3 / (p * 3 + q - 1)
    assert gamma_gamma_conditional_expected_average_value(fit, 3, 50.0) == pytest.approx(
        (1 - w) * p * g / (q - 1) + w * 50.0
    )
    assert gamma_gamma_conditional_expected_average_value(fit, 0, 0.0) == pytest.approx(p * g / (q - 1))


def test_gamma_gamma_degenerate_input_raises() -> None:
    with pytest.raises(ValueError, match="too few repeat buyers"):
        fit_gamma_gamma([1, 2, 0], [10.0, 20.0, 0.0])
    with pytest.raises(ValueError, match="too few repeat buyers"):
        fit_gamma_gamma([0, 0, 0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        fit_gamma_gamma([1, 2], [10.0])
    with pytest.raises(ValueError, match="positive monetary_value"):
        fit_gamma_gamma([1] * 20, [10.0] * 19 + [0.0])
    with pytest.raises(ValueError, match="integer-valued"):
        fit_gamma_gamma([1.5] * 20, [10.0] * 20)
    # heavy-tailed spend heterogeneity (true q = 0.6): the mean spend is undefined
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, 20_000).astype(float)
    m, _ = simulate_spend(rng, x, 4.0, 0.6, 10.0)
    with pytest.raises(ValueError, match="q = .* <= 1"):
        fit_gamma_gamma(x, m)
    fit = fit_gamma_gamma(x, m, require_finite_mean=False)
    assert fit.q < 1 and fit.population_mean_value == math.inf
    with pytest.raises(ValueError, match="without repeat purchases"):
        gamma_gamma_conditional_expected_average_value(fit, [0, 3], [0.0, 20.0])


# --------------------------------------------------------------------------- #
# RFM summary and CLV
# --------------------------------------------------------------------------- #
@pytest.fixture()
def transactions() -> pd.DataFrame:
    rows = [
        # customer A: weeks (Mon-Sun) 0, 0, 1, 3 -> periods {0, 1, 3}
        ("A", "2024-01-01 09:00", 10.0),
        ("A", "2024-01-02 18:30", 5.0),   # same week as the first purchase: merged (15.0)
        ("A", "2024-01-10", 20.0),
        ("A", "2024-01-24", 30.0),
        ("B", "2024-01-15", 7.0),          # one-off buyer
        ("C", "2024-02-10", 99.0),         # only after the observation end -> dropped
        ("D", "2024-01-29", 12.0),         # first purchase in the last observed week
        ("D", "2024-02-12", 50.0),         # after the observation end -> ignored
        ("E", "2024-01-03", 4.0),
        ("E", "2024-02-04 23:59", 6.0),    # last day of the observation week
    ]
    return pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])


def test_rfm_summary_weekly_matches_lifetimes_definitions(transactions: pd.DataFrame) -> None:
    rfm = rfm_summary(transactions, "customer_id", "ts", "amount", observation_end="2024-02-04", freq="W")
    assert list(rfm.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert rfm.index.name == "customer_id" and list(rfm.index) == ["A", "B", "D", "E"]
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 0.0, 0.0, 1.0],
            "recency": [3.0, 0.0, 0.0, 4.0],
            "T": [4.0, 2.0, 0.0, 4.0],  # observation week = week 4 (Mon 2024-01-29 .. Sun 02-04)
            "monetary_value": [25.0, 0.0, 0.0, 6.0],  # mean of repeat periods only
        },
        index=pd.Index(["A", "B", "D", "E"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(rfm, expected)


def test_rfm_summary_daily_and_defaults(transactions: pd.DataFrame) -> None:
    rfm = rfm_summary(transactions, "customer_id", "ts", "amount", observation_end="2024-02-04", freq="D")
    a = rfm.loc["A"]
    assert (a["frequency"], a["recency"], a["T"]) == (3.0, 23.0, 34.0)
    assert a["monetary_value"] == pytest.approx((5.0 + 20.0 + 30.0) / 3)
    # default observation end = last transaction; no monetary column
    rfm2 = rfm_summary(transactions, "customer_id", "ts", None, freq="W")
    assert list(rfm2.columns) == ["frequency", "recency", "T"]
    assert rfm2.loc["C", "T"] == 1.0 and rfm2.loc["D", "frequency"] == 1.0  # last transaction: Mon 2024-02-12
    with pytest.raises(ValueError, match="missing column"):
        rfm_summary(transactions, "customer_id", "ts", "revenue")


def test_fit_from_rfm_dataframe_and_clv() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    T = rng.integers(1, 79, n).astype(float)
    sim = simulate_bgnbd(rng, n, *CDNOW_BGNBD, T)
    x = sim["x"]
    m = np.where(x > 0, simulate_spend(rng, np.maximum(x, 1), *CDNOW_GG)[0], 0.0)
    rfm = pd.DataFrame(
        {"frequency": x, "recency": np.round(sim["tx"]), "T": T, "monetary_value": m},
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    bg = fit_bgnbd_rfm(rfm)
    gg = fit_gamma_gamma_rfm(rfm)
    assert bg.converged and gg.converged
    assert gg.n_customers == int((x > 0).sum())
    bg_direct = fit_bgnbd(rfm["frequency"], rfm["recency"], rfm["T"])
    assert bg.log_likelihood == pytest.approx(bg_direct.log_likelihood)

    sample = rfm.iloc[:300]
    horizon, d, margin = 52, 0.002, 0.3
    clv = bgnbd_gg_clv(bg, gg, sample, horizon, d, margin)
    assert isinstance(clv, pd.Series) and clv.name == "clv" and clv.index.equals(sample.index)
    # manual: margin * E[Z] * sum_k (E[Y(k)] - E[Y(k-1)]) / (1+d)^k
    value = np.asarray(gamma_gamma_conditional_expected_average_value(gg, sample["frequency"], sample["monetary_value"]))
    k = np.arange(0, horizon + 1, dtype=float)
    cum = np.column_stack(
        [bgnbd_conditional_expected_purchases(bg, kk, sample["frequency"], sample["recency"], sample["T"]) for kk in k]
    )
    manual = margin * value * (np.diff(cum, axis=1) @ (1 + d) ** -k[1:])
    np.testing.assert_allclose(clv.to_numpy(), manual, rtol=1e-10)
    # one-off buyers get the population mean spend and a positive CLV
    one_off = sample["frequency"] == 0
    assert one_off.any() and np.all(clv[one_off] > 0)
    # no discounting -> margin * value * E[Y(H)]; a longer horizon is worth more
    undiscounted = bgnbd_gg_clv(bg, gg, sample, horizon, 0.0, margin, return_components=True)
    assert isinstance(undiscounted, pd.DataFrame)
    np.testing.assert_allclose(undiscounted["clv"], margin * value * cum[:, -1], rtol=1e-10)
    assert np.all(undiscounted["clv"].to_numpy() >= clv.to_numpy())
    assert np.all(bgnbd_gg_clv(bg, gg, sample, 104, d, margin).to_numpy() > clv.to_numpy())
    with pytest.raises(ValueError, match="horizon_periods"):
        bgnbd_gg_clv(bg, gg, sample, 0, d, margin)
    with pytest.raises(ValueError, match="missing column"):
        bgnbd_gg_clv(bg, gg, sample.drop(columns="monetary_value"), 12, d, margin)
