"""Benchmark the CLV model fits on simulated data.

Run ``python -m orchestration.analytics.bench_clv [--customers 1000000]
[--cohort-months 10000] [--json]``.  It simulates

* monthly acquisition cohorts from an sBG (alpha=0.704, beta=1.182, the
  "regular" segment of Fader & Hardie 2007), each observed for up to
  ``--max-age`` months, until ~``--cohort-months`` (cohort, month) cells exist;
* ``--customers`` customers from the BG/NBD with the CDNOW estimates of
  Fader, Hardie & Lee (2005) (r=0.243, alpha=4.414, a=0.793, b=2.426; weeks),
  first purchases spread over ``--weeks`` weeks so T and recency are whole
  weeks, as produced by :func:`~orchestration.analytics.clv_models.rfm_summary`;
* Gamma-Gamma spend (p=6.25, q=3.74, gamma=15.44) for the repeat buyers,

then times :func:`fit_sbg_cohorts` on the long cohort table,
:func:`fit_bgnbd` on the raw per-customer arrays (it compresses to unique
(x, t_x, T) itself) and :func:`fit_gamma_gamma` on the full RFM arrays (it
keeps the repeat buyers), reporting wall time, convergence, the recovered
parameters and the process's peak resident memory (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from orchestration.analytics.clv_models import (
    BGNBDFit,
    GammaGammaFit,
    SBGFit,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_sbg_cohorts,
)

SBG_TRUE = {"alpha": 0.704, "beta": 1.182}
BGNBD_TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_TRUE = {"p": 6.25, "q": 3.74, "gamma": 15.44}
TARGETS_S = {"sbg": None, "bgnbd": 10.0, "gamma_gamma": 5.0}
PEAK_RSS_TARGET_MB = 2048.0

F = TypeVar("F")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 1024.0**2


def simulate_sbg_cohorts(
    rng: np.random.Generator, cohort_months: int, max_age: int, alpha: float, beta: float
) -> pd.DataFrame:
    """Long cohort table (cohort, period, alive) with ~``cohort_months`` cells for periods >= 1.

    Cohort k (k = 0, 1, ...) was acquired k+1 months before the end of
    observation and is observed for min(k + 1, max_age) months.
    """
    ages: list[int] = []
    while sum(ages) < cohort_months:
        ages.append(min(len(ages) + 1, max_age))
    ages[-1] -= sum(ages) - cohort_months  # hit the requested number of cells exactly
    sizes = rng.integers(500, 5000, len(ages))
    frames = []
    for k, (age, size) in enumerate(zip(ages, sizes)):
        theta = rng.beta(alpha, beta, size)
        churn_period = rng.geometric(theta)  # period in which each customer churns (>= 1)
        periods = np.arange(age + 1)
        alive = (churn_period[None, :] > periods[:, None]).sum(axis=1)
        frames.append(pd.DataFrame({"cohort": k, "period": periods, "alive": alive}))
    return pd.concat(frames, ignore_index=True)


def simulate_bgnbd_weekly(
    rng: np.random.Generator, n: int, weeks: int, r: float, alpha: float, a: float, b: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD customers with T uniform on 1..weeks whole weeks and recency rounded to weeks.

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); the customer drops out right
    after repeat purchase J ~ Geometric(p); repeat purchases follow a Poisson
    process, so x = min(N(T), J) and t_x is the x-th of N(T) uniform arrival
    times (a Beta(x, N - x + 1) order statistic).
    """
    T = rng.integers(1, weeks + 1, n).astype(np.float64)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    J = rng.geometric(p)
    N = rng.poisson(lam * T)
    x = np.minimum(N, J)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(N - x + 1, 1)), 0.0)
    recency = np.where(x > 0, np.clip(np.round(tx), 0, T), 0.0)
    return x.astype(np.float64), recency, T


def simulate_spend(
    rng: np.random.Generator, frequency: np.ndarray, p: float, q: float, gamma: float
) -> np.ndarray:
    """Mean repeat-transaction value: m_x ~ Gamma(p x, rate nu x), nu ~ Gamma(q, rate gamma); 0 if x = 0."""
    nu = rng.gamma(q, 1.0 / gamma, len(frequency))
    xs = np.maximum(frequency, 1.0)
    m = rng.gamma(p * xs, 1.0 / (nu * xs))
    return np.where(frequency > 0, m, 0.0)


def _timed(fn: Callable[[], F]) -> tuple[F, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(customers: int, cohort_months: int, max_age: int, weeks: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "config": {
            "customers": customers, "cohort_months": cohort_months, "max_age": max_age,
            "weeks": weeks, "seed": seed,
        },
        "fits": {},
    }

    cohorts = simulate_sbg_cohorts(rng, cohort_months, max_age, **SBG_TRUE)
    n_cells = int((cohorts["period"] > 0).sum())
    sbg, secs = _timed(lambda: fit_sbg_cohorts(cohorts))
    results["fits"]["sbg"] = _row(sbg, secs, SBG_TRUE, f"{cohorts['cohort'].nunique()} cohorts, {n_cells} cohort-months")

    x, recency, T = simulate_bgnbd_weekly(rng, customers, weeks, **BGNBD_TRUE)
    n_unique = int(pd.DataFrame({"x": x, "r": recency, "T": T}).drop_duplicates().shape[0])
    bg, secs = _timed(lambda: fit_bgnbd(x, recency, T))
    results["fits"]["bgnbd"] = _row(bg, secs, BGNBD_TRUE, f"{customers} customers -> {n_unique} unique (x, t_x, T)")

    monetary = simulate_spend(rng, x, **GG_TRUE)
    gg, secs = _timed(lambda: fit_gamma_gamma(x, monetary))
    results["fits"]["gamma_gamma"] = _row(gg, secs, GG_TRUE, f"{int((x > 0).sum())} repeat buyers")

    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["targets"] = {"fit_seconds": TARGETS_S, "peak_rss_mb": PEAK_RSS_TARGET_MB}
    results["all_targets_met"] = bool(
        all(
            f["converged"] and (TARGETS_S[k] is None or f["seconds"] < TARGETS_S[k])
            for k, f in results["fits"].items()
        )
        and results["peak_rss_mb"] < PEAK_RSS_TARGET_MB
    )
    return results


def _row(fit: SBGFit | BGNBDFit | GammaGammaFit, secs: float, truth: dict[str, float], data: str) -> dict[str, Any]:
    params = {k: v for k, v in asdict(fit).items() if k in truth}
    return {
        "data": data,
        "seconds": round(secs, 3),
        "converged": fit.converged,
        "params": {k: round(float(v), 4) for k, v in params.items()},
        "true_params": truth,
        "log_likelihood": round(fit.log_likelihood, 2),
        "peak_rss_mb_after": round(peak_rss_mb(), 1),
    }


def _format_table(results: dict[str, Any]) -> str:
    lines = [
        f"{'model':<12} {'fit (s)':>8} {'target':>7} {'conv':>5} {'RSS MiB':>8}  data / estimates (true)",
        "-" * 100,
    ]
    for name, f in results["fits"].items():
        target = TARGETS_S[name]
        est = ", ".join(f"{k}={v:g} ({f['true_params'][k]:g})" for k, v in f["params"].items())
        lines.append(
            f"{name:<12} {f['seconds']:>8.3f} {('<' + format(target, 'g')) if target else '-':>7} "
            f"{str(f['converged']):>5} {f['peak_rss_mb_after']:>8.1f}  {f['data']}"
        )
        lines.append(f"{'':<45}{est}")
    lines.append("-" * 100)
    lines.append(
        f"peak RSS {results['peak_rss_mb']:.1f} MiB (target < {PEAK_RSS_TARGET_MB:g}); "
        f"all targets met: {results['all_targets_met']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="BG/NBD customers (default 1,000,000)")
    parser.add_argument("--cohort-months", type=int, default=10_000, help="sBG (cohort, month) cells (default 10,000)")
    parser.add_argument("--max-age", type=int, default=72, help="oldest cohort age in months (default 72)")
    parser.add_argument("--weeks", type=int, default=104, help="span of first purchases in weeks (default 104)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    args = parser.parse_args(argv)
    if args.customers < 100 or args.cohort_months < 3 or args.max_age < 2 or args.weeks < 2:
        parser.error("need --customers >= 100, --cohort-months >= 3, --max-age >= 2, --weeks >= 2")
    results = run(args.customers, args.cohort_months, args.max_age, args.weeks, args.seed)
    print(json.dumps(results, indent=2) if args.json else _format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
