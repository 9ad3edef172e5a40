"""Sanity rules for the Python-computed marts, as pure functions (the Dagster asset checks call them)."""

from __future__ import annotations

import pandas as pd


def cohort_retention_violations(table: pd.DataFrame) -> pd.DataFrame:
    """Rows breaking: retention at month 0 is 1; active <= cohort size; active never rises after
    month 0 above the size; rates in [0, 1]."""
    at_zero = table["months_since_acquisition"] == 0
    bad = (
        (at_zero & (table["logo_retention_rate"].astype(float) != 1.0))
        | (table["active_customers"] > table["cohort_size"])
        | ~table["logo_retention_rate"].astype(float).between(0, 1)
    )
    return table[bad]


def customer_clv_violations(table: pd.DataFrame) -> pd.DataFrame:
    """Rows breaking: predicted CLV >= 0 and non-decreasing with the horizon; survival, P(alive) in [0, 1]."""
    p12, p24, p36 = (table[f"clv_predicted_{h}m_usd"].astype(float) for h in (12, 24, 36))
    tol = 0.005  # values are rounded to the cent

    def outside_unit(col: str) -> pd.Series:
        values = table[col].astype(float)
        return values.notna() & ~values.between(0, 1)

    bad = (p12 < 0) | (p24 < p12 - tol) | (p36 < p24 - tol) | outside_unit("survival_probability_12m") | outside_unit("p_alive")
    return table[bad]


def failed_fits(fits: pd.DataFrame) -> list[str]:
    """'model/segment: message' for every fit of the latest run that did not converge."""
    if fits.empty:
        return []
    latest = fits[fits["fitted_at"] == fits["fitted_at"].max()]
    failed = latest[~latest["converged"].fillna(False).astype(bool)]
    return [f"{r.model}/{r.segment}: {r.message}" for r in failed.itertuples()]


def increasing_sbg_survival(fits: pd.DataFrame, horizon: int = 60) -> list[str]:
    """'segment' for every sBG fit of the latest run whose survival curve S(0..horizon) ever rises."""
    import numpy as np

    from orchestration.analytics.clv_models import sbg_survival

    if fits.empty:
        return []
    latest = fits[(fits["fitted_at"] == fits["fitted_at"].max()) & (fits["model"] == "sbg")]
    bad = []
    for row in latest.dropna(subset=["alpha", "beta"]).itertuples():
        try:
            curve = np.asarray(sbg_survival(float(row.alpha), float(row.beta), np.arange(horizon + 1)))
        except ValueError:  # parameters outside the model's domain
            bad.append(str(row.segment))
            continue
        if curve[0] != 1.0 or np.any(np.diff(curve) > 1e-12) or not np.all(np.isfinite(curve)):
            bad.append(str(row.segment))
    return bad
