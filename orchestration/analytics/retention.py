"""Cohort retention from monthly MRR (kpis.md, `cohort_retention`). Pure pandas, no warehouse."""

from __future__ import annotations

import pandas as pd

COHORT_RETENTION_COLUMNS = [
    "cohort_month", "months_since_acquisition", "cohort_size", "active_customers",
    "logo_retention_rate", "cohort_mrr_usd", "revenue_retention_rate",
]


def months_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Whole calendar months from `start` to `end` (both first-of-month dates)."""
    start, end = pd.to_datetime(start), pd.to_datetime(end)
    return (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)


def cohort_retention(fct_mrr: pd.DataFrame, latest_complete_month: pd.Timestamp) -> pd.DataFrame:
    """Logo and revenue retention by cohort and months since the cohort's first MRR month.

    `fct_mrr` has one row per customer and month (`customer_id`, `month`, `mrr_usd`), as the mart.
    A customer's cohort is its first month with MRR > 0. Every cohort gets a row for each
    k = 0 .. (latest complete month - cohort month), including months where nobody is active.
    """
    mrr = fct_mrr.loc[:, ["customer_id", "month", "mrr_usd"]].copy()
    mrr["month"] = pd.to_datetime(mrr["month"])
    mrr["mrr_usd"] = mrr["mrr_usd"].astype(float)
    latest = pd.Timestamp(latest_complete_month)
    mrr = mrr[mrr["month"] <= latest]
    paying = mrr[mrr["mrr_usd"] > 0]
    if paying.empty:
        return pd.DataFrame(columns=COHORT_RETENTION_COLUMNS)
    cohorts = paying.groupby("customer_id")["month"].min().rename("cohort_month")
    paying = paying.join(cohorts, on="customer_id")
    paying["months_since_acquisition"] = months_between(paying["cohort_month"], paying["month"])

    sizes = cohorts.groupby(cohorts).size().rename("cohort_size")
    active = paying.groupby(["cohort_month", "months_since_acquisition"]).agg(
        active_customers=("customer_id", "nunique"), cohort_mrr_usd=("mrr_usd", "sum"))

    # the full (cohort, k) grid, so months with no active customer still appear
    grid = pd.DataFrame({"cohort_month": sizes.index})
    grid["max_k"] = months_between(grid["cohort_month"], pd.Series(latest, index=grid.index))
    grid = grid.loc[grid.index.repeat(grid["max_k"] + 1)].copy()
    grid["months_since_acquisition"] = grid.groupby("cohort_month").cumcount()
    out = (grid.drop(columns="max_k")
           .join(sizes, on="cohort_month")
           .join(active, on=["cohort_month", "months_since_acquisition"]))
    out["active_customers"] = out["active_customers"].fillna(0).astype("int64")
    out["cohort_mrr_usd"] = out["cohort_mrr_usd"].fillna(0.0).round(2)
    out["logo_retention_rate"] = out["active_customers"] / out["cohort_size"]
    base = out.loc[out["months_since_acquisition"] == 0].set_index("cohort_month")["cohort_mrr_usd"]
    base_mrr = out["cohort_month"].map(base)
    out["revenue_retention_rate"] = (out["cohort_mrr_usd"] / base_mrr.where(base_mrr > 0)).astype(float)
    out["cohort_month"] = out["cohort_month"].dt.date
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out["months_since_acquisition"] = out["months_since_acquisition"].astype("int64")
    return out[COHORT_RETENTION_COLUMNS].sort_values(["cohort_month", "months_since_acquisition"]).reset_index(drop=True)
