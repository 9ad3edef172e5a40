"""Customer lifetime value per customer (kpis.md, `customer_clv` and `clv_model_fits`).

Pure pandas/numpy on DataFrames shaped like the marts; the Dagster glue lives in
orchestration/assets/analytics.py. Model maths is in clv_models.py.

  * clv_historical_usd: lifetime net revenue x gross margin over the customer's months.
  * clv_formula_usd and expected_lifetime_months: computed in dbt (int_customer_clv_formula, which
    kpi_acquisition_monthly also reads for LTV:CAC) and copied here, so the formula lives in one place.
  * subscription customers (ever had MRR): sBG per segment on the survival of MRR cohorts
    (survival = not yet churned for the first time); predicted CLV over H months =
    current MRR x margin x sum_k S(n+k)/S(n) / (1+d)^k with n the months survived so far.
  * one-off buyers: BG/NBD + Gamma-Gamma on a weekly RFM summary of their paid invoices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.analytics import clv_models as cm
from orchestration.analytics.retention import months_between

HORIZONS_MONTHS = (12, 24, 36)
WEEKS_PER_MONTH = 52 / 12

CUSTOMER_CLV_COLUMNS = [
    "customer_id", "clv_historical_usd", "clv_formula_usd", "expected_lifetime_months",
    "clv_predicted_12m_usd", "clv_predicted_24m_usd", "clv_predicted_36m_usd",
    "survival_probability_12m", "p_alive", "model", "fitted_at",
]
FIT_COLUMNS = [
    "fitted_at", "model", "segment", "n_customers", "log_likelihood", "converged", "message",
    "alpha", "beta", "r", "a", "b", "p", "q", "gamma",
]


@dataclass(frozen=True)
class ClvInputs:
    """Frames read from the marts (column names as in kpis.md)."""

    dim_customers: pd.DataFrame      # customer_id, segment, status, current_mrr, lifetime_revenue, first_paid_at
    fct_mrr: pd.DataFrame            # customer_id, month, mrr_usd, movement (only each customer's first month
                                     # with MRR and first churn matter: the asset reads just those)
    monthly_revenue: pd.DataFrame    # month, net_revenue_usd, cogs_usd (kpi_revenue month rows)
    one_off_payments: pd.DataFrame   # customer_id, paid_at, amount_usd (paid invoices with total > 0)
    clv_formula: pd.DataFrame        # customer_id, clv_formula_usd, expected_lifetime_months (int_customer_clv_formula)
    latest_complete_month: pd.Timestamp
    fitted_at: pd.Timestamp


@dataclass
class ClvResult:
    customer_clv: pd.DataFrame
    model_fits: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def monthly_discount_rate(annual: float) -> float:
    return (1.0 + annual) ** (1.0 / 12.0) - 1.0


def gross_margin_rate(monthly_revenue: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float | None:
    """(net revenue - COGS) / net revenue over the months [start, end]; None when revenue <= 0."""
    months = pd.to_datetime(monthly_revenue["month"])
    window = monthly_revenue[(months >= start) & (months <= end)]
    net = float(window["net_revenue_usd"].astype(float).sum())
    cogs = float(window["cogs_usd"].astype(float).fillna(0).sum())
    return None if net <= 0 else (net - cogs) / net


def lifetime_margin_rates(customers: pd.DataFrame, monthly_revenue: pd.DataFrame,
                          latest: pd.Timestamp) -> pd.Series:
    """Gross margin over each customer's own months (first paid month .. latest complete month)."""
    rev = monthly_revenue.assign(month=pd.to_datetime(monthly_revenue["month"])).sort_values("month")
    rev = rev[rev["month"] <= latest]
    cum = pd.DataFrame({
        "month": rev["month"].to_numpy(),
        "net": rev["net_revenue_usd"].astype(float).cumsum().to_numpy(),
        "cogs": rev["cogs_usd"].astype(float).fillna(0).cumsum().to_numpy(),
    })
    if cum.empty:
        return pd.Series(np.nan, index=customers.index)
    start = pd.to_datetime(customers["first_paid_at"]).dt.to_period("M").dt.to_timestamp()
    pos_start = np.searchsorted(cum["month"].to_numpy(), start.fillna(cum["month"].iloc[0]).to_numpy(), side="left")
    net_before = np.where(pos_start > 0, cum["net"].to_numpy()[np.maximum(pos_start - 1, 0)], 0.0)
    cogs_before = np.where(pos_start > 0, cum["cogs"].to_numpy()[np.maximum(pos_start - 1, 0)], 0.0)
    net = cum["net"].iloc[-1] - net_before
    cogs = cum["cogs"].iloc[-1] - cogs_before
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(net > 0, (net - cogs) / net, np.nan)
    return pd.Series(rate, index=customers.index)


def sbg_cohort_survival(fct_mrr: pd.DataFrame, latest: pd.Timestamp) -> pd.DataFrame:
    """Per customer: cohort (first MRR month), months observed, and first-churn month index if any."""
    mrr = fct_mrr.assign(month=pd.to_datetime(fct_mrr["month"]))
    mrr = mrr[mrr["month"] <= latest]
    cohort = mrr[mrr["mrr_usd"].astype(float) > 0].groupby("customer_id")["month"].min().rename("cohort")
    churn = mrr[mrr["movement"] == "churn"].groupby("customer_id")["month"].min().rename("first_churn")
    out = pd.concat([cohort, churn], axis=1).dropna(subset=["cohort"])
    out["age"] = months_between(out["cohort"], pd.Series(latest, index=out.index))
    out["lifetime"] = months_between(out["cohort"], out["first_churn"])  # NaN = still alive (censored)
    return out


def _survival_long(lifetimes: pd.DataFrame) -> pd.DataFrame:
    """Long (cohort, period, alive) table: alive at period t = not churned in months 1..t."""
    rows = []
    for cohort, grp in lifetimes.groupby("cohort"):
        age = int(grp["age"].iloc[0])
        life = grp["lifetime"].to_numpy(dtype=float)
        for t in range(0, age + 1):
            alive = int(np.sum(np.isnan(life) | (life > t)))
            rows.append((cohort, t, alive))
    return pd.DataFrame(rows, columns=["cohort", "period", "alive"])


def fit_sbg_by_segment(lifetimes: pd.DataFrame, segments: pd.Series) -> dict[str, cm.SBGFit | str]:
    """An sBG fit per segment, plus 'all' (pooled); a segment whose data cannot identify the model
    gets the pooled fit. Values are fits, or the error message when even that fails."""
    fits: dict[str, cm.SBGFit | str] = {}
    data = lifetimes.join(segments.rename("segment"))
    for name, grp in [("all", data)] + list(data.groupby("segment")):
        try:
            fits[str(name)] = cm.fit_sbg_cohorts(_survival_long(grp))
        except ValueError as exc:
            fits[str(name)] = str(exc)
    return fits


def compute_customer_clv(inputs: ClvInputs, discount_rate_annual: float) -> ClvResult:
    latest = pd.Timestamp(inputs.latest_complete_month)
    customers = inputs.dim_customers.set_index("customer_id")
    customers = customers[customers["status"] != "never_paid"]
    segments = customers["segment"].fillna("unknown")
    warnings: list[str] = []
    fit_rows: list[dict] = []

    margin_t12 = gross_margin_rate(inputs.monthly_revenue, latest - pd.DateOffset(months=11), latest)
    margin = 0.0 if margin_t12 is None else margin_t12

    out = pd.DataFrame(index=customers.index)
    life_margin = lifetime_margin_rates(customers, inputs.monthly_revenue, latest)
    out["clv_historical_usd"] = (customers["lifetime_revenue"].astype(float) * life_margin.fillna(margin)).round(2)

    # classic formula (ARPA x margin / segment churn): computed in dbt, see the module docstring
    formula = inputs.clv_formula.set_index("customer_id").reindex(customers.index)
    for column in ("clv_formula_usd", "expected_lifetime_months"):
        out[column] = formula[column].astype(float)

    # subscription customers: sBG
    lifetimes = sbg_cohort_survival(inputs.fct_mrr, latest)
    sub_ids = lifetimes.index.intersection(customers.index)
    fits = fit_sbg_by_segment(lifetimes.loc[sub_ids], segments)
    for seg, fit in fits.items():
        if isinstance(fit, cm.SBGFit):
            fit_rows.append(dict(model="sbg", segment=seg, n_customers=fit.n_customers,
                                 log_likelihood=fit.log_likelihood, converged=fit.converged,
                                 message=fit.message, alpha=fit.alpha, beta=fit.beta))
        else:
            warnings.append(f"sbg {seg}: {fit}")
            fit_rows.append(dict(model="sbg", segment=seg, n_customers=int((segments.loc[sub_ids] == seg).sum())
                                 if seg != "all" else len(sub_ids), converged=False, message=fit))
    d_month = monthly_discount_rate(discount_rate_annual)
    # positions into `out`, looked up once per segment: label lookups of tens of thousands of string
    # ids per segment and horizon were most of this function's time at 100k customers
    current_mrr = customers["current_mrr"].astype(float).fillna(0.0).to_numpy()
    age = lifetimes["age"].reindex(out.index).to_numpy()
    predicted = {h: np.full(len(out), np.nan) for h in HORIZONS_MONTHS}
    survival_12m = np.full(len(out), np.nan)
    sbg_rows: list[np.ndarray] = []
    sub_segments = segments.loc[sub_ids]
    for cid_seg, ids in sub_segments.groupby(sub_segments).groups.items():
        fit = fits.get(str(cid_seg))
        if not isinstance(fit, cm.SBGFit) or not fit.converged:
            fit = fits.get("all")
        if not isinstance(fit, cm.SBGFit):
            continue
        rows = out.index.get_indexer(ids)
        alive = current_mrr[rows] > 0
        n = age[rows].astype(int)
        for h in HORIZONS_MONTHS:
            periods = np.asarray(cm.sbg_expected_discounted_periods(fit.alpha, fit.beta, n, d_month, h))
            predicted[h][rows] = np.where(alive, (current_mrr[rows] * margin * periods).round(2), 0.0)
        s_n = np.asarray(cm.sbg_survival(fit.alpha, fit.beta, n))
        s_n12 = np.asarray(cm.sbg_survival(fit.alpha, fit.beta, n + 12))
        survival_12m[rows] = np.where(alive, s_n12 / s_n, 0.0)
        sbg_rows.append(rows)
    if sbg_rows:
        for h in HORIZONS_MONTHS:
            out[f"clv_predicted_{h}m_usd"] = predicted[h]
        out["survival_probability_12m"] = survival_12m
        out.loc[out.index[np.concatenate(sbg_rows)], "model"] = "sbg"

    # one-off buyers: BG/NBD + Gamma-Gamma on weekly RFM of paid invoices
    one_off_ids = customers.index[(customers["status"] == "one_off")]
    payments = inputs.one_off_payments[inputs.one_off_payments["customer_id"].isin(one_off_ids)]
    if len(one_off_ids):
        out.loc[one_off_ids, "model"] = "bgnbd_gamma_gamma"
        _one_off_clv(out, payments, inputs.fitted_at, margin, discount_rate_annual, fit_rows, warnings)

    out["fitted_at"] = pd.Timestamp(inputs.fitted_at)
    out = out.reset_index().rename(columns={"index": "customer_id"})
    for col in CUSTOMER_CLV_COLUMNS:
        if col not in out:
            out[col] = np.nan
    fits_df = pd.DataFrame(fit_rows)
    for col in FIT_COLUMNS:
        if col not in fits_df:
            fits_df[col] = np.nan
    fits_df["fitted_at"] = pd.Timestamp(inputs.fitted_at)
    return ClvResult(out[CUSTOMER_CLV_COLUMNS], fits_df[FIT_COLUMNS], warnings)


def _one_off_clv(out: pd.DataFrame, payments: pd.DataFrame, observation_end: pd.Timestamp, margin: float,
                 discount_rate_annual: float, fit_rows: list[dict], warnings: list[str]) -> None:
    rfm = cm.rfm_summary(payments, "customer_id", "paid_at", "amount_usd",
                         observation_end=pd.Timestamp(observation_end), freq="W")
    try:
        bg = cm.fit_bgnbd_rfm(rfm)
        fit_rows.append(dict(model="bgnbd", segment="all", n_customers=bg.n_customers,
                             log_likelihood=bg.log_likelihood, converged=bg.converged, message=bg.message,
                             r=bg.r, alpha=bg.alpha, a=bg.a, b=bg.b))
    except ValueError as exc:
        warnings.append(f"bgnbd: {exc}")
        fit_rows.append(dict(model="bgnbd", segment="all", n_customers=len(rfm), converged=False, message=str(exc)))
        return
    out.loc[rfm.index, "p_alive"] = np.asarray(
        cm.bgnbd_probability_alive(bg, rfm["frequency"], rfm["recency"], rfm["T"]))
    try:
        gg = cm.fit_gamma_gamma_rfm(rfm)
        fit_rows.append(dict(model="gamma_gamma", segment="all", n_customers=gg.n_customers,
                             log_likelihood=gg.log_likelihood, converged=gg.converged, message=gg.message,
                             p=gg.p, q=gg.q, gamma=gg.gamma))
    except ValueError as exc:
        warnings.append(f"gamma_gamma: {exc}")
        fit_rows.append(dict(model="gamma_gamma", segment="all",
                             n_customers=int((rfm["frequency"] > 0).sum()), converged=False, message=str(exc)))
        return
    d_week = (1.0 + discount_rate_annual) ** (1.0 / 52.0) - 1.0
    for h in HORIZONS_MONTHS:
        weeks = int(round(h * WEEKS_PER_MONTH))
        clv = cm.bgnbd_gg_clv(bg, gg, rfm, weeks, d_week, margin=max(margin, 0.0))
        out.loc[rfm.index, f"clv_predicted_{h}m_usd"] = np.asarray(clv).round(2)
