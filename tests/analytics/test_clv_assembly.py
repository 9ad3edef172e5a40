"""customer_clv assembly on a hand-made book of three subscription customers, and the asset-check rules."""

import pandas as pd
import pytest

from orchestration.analytics import clv_models as cm
from orchestration.analytics.checks import (
    cohort_retention_violations,
    customer_clv_violations,
    failed_fits,
    increasing_sbg_survival,
)
from orchestration.analytics.clv import ClvInputs, compute_customer_clv, sbg_cohort_survival

MONTHS = pd.date_range("2024-01-01", "2024-06-01", freq="MS")


def mrr_rows():
    rows = []
    for m in MONTHS:  # A: 100 every month
        rows.append(("A", m, 100.0, "new" if m == MONTHS[0] else "unchanged"))
    for i, m in enumerate(MONTHS[:4]):  # B: 50 Jan-Mar, churns in April
        rows.append(("B", m, 50.0 if i < 3 else 0.0, ["new", "unchanged", "unchanged", "churn"][i]))
    for i, m in enumerate(MONTHS[2:]):  # C: 200 from March
        rows.append(("C", m, 200.0, "new" if i == 0 else "unchanged"))
    return pd.DataFrame(rows, columns=["customer_id", "month", "mrr_usd", "movement"])


def inputs():
    return ClvInputs(
        dim_customers=pd.DataFrame({
            "customer_id": ["A", "B", "C", "N"],
            "segment": ["smb", "smb", "smb", "smb"],
            "status": ["active", "churned", "active", "never_paid"],
            "current_mrr": [100.0, 0.0, 200.0, 0.0],
            "lifetime_revenue": [600.0, 150.0, 800.0, 0.0],
            "first_paid_at": pd.to_datetime(["2024-01-03", "2024-01-10", "2024-03-02", None]),
        }),
        fct_mrr=mrr_rows(),
        monthly_revenue=pd.DataFrame({"month": MONTHS, "net_revenue_usd": [1000.0] * 6,
                                      "cogs_usd": [250.0] * 6}),
        one_off_payments=pd.DataFrame(columns=["customer_id", "paid_at", "amount_usd"]),
        # computed by dbt (int_customer_clv_formula, unit test int_customer_clv_formula_by_hand, same book)
        clv_formula=pd.DataFrame({"customer_id": ["A", "B", "C"], "clv_formula_usd": [825.0, 412.5, 1650.0],
                                  "expected_lifetime_months": [11.0, 11.0, 11.0]}),
        latest_complete_month=pd.Timestamp("2024-06-01"),
        fitted_at=pd.Timestamp("2024-07-02 03:00"),
    )


def test_formula_copied_and_historical_clv_by_hand():
    result = compute_customer_clv(inputs(), discount_rate_annual=0.10)
    clv = result.customer_clv.set_index("customer_id")
    assert "N" not in clv.index  # never paid: no CLV row
    # the formula columns are dbt's (hand-computed there: margin 0.75, smb churn 1/11), copied per customer
    assert clv.loc["A", "clv_formula_usd"] == pytest.approx(100 * 0.75 * 11)   # 825.00
    assert clv.loc["B", "clv_formula_usd"] == pytest.approx(50 * 0.75 * 11)    # 412.50
    assert clv.loc["C", "clv_formula_usd"] == pytest.approx(200 * 0.75 * 11)   # 1650.00
    assert clv.loc["A", "expected_lifetime_months"] == pytest.approx(11)
    # historical: lifetime revenue x margin over its own months (0.75 throughout)
    assert clv.loc["A", "clv_historical_usd"] == pytest.approx(450.0)
    assert clv.loc["C", "clv_historical_usd"] == pytest.approx(600.0)
    assert set(clv["model"]) == {"sbg"}
    assert (clv["fitted_at"] == pd.Timestamp("2024-07-02 03:00")).all()


def test_sbg_prediction_uses_the_fitted_curve_and_zero_for_churned():
    # heterogeneous churn so sBG is identifiable: 60 customers in 6 cohorts, a few churn each month
    rows, dim = [], []
    rng = pd.Series(range(60))
    for cid in rng:
        start = MONTHS[cid % 6]
        life = [1, 2, 3, 5, 8, 99][cid % 6] + cid % 3  # months until first churn
        for k, m in enumerate(pd.date_range(start, "2024-06-01", freq="MS")):
            alive = k < life
            rows.append((f"c{cid}", m, 10.0 if alive else 0.0, "new" if k == 0 else ("churn" if k == life else "unchanged")))
            if not alive:
                break
        dim.append((f"c{cid}", "smb", "active", 10.0 if rows[-1][2] > 0 else 0.0, 100.0, start))
    base = inputs()
    data = ClvInputs(
        dim_customers=pd.DataFrame(dim, columns=["customer_id", "segment", "status", "current_mrr",
                                                 "lifetime_revenue", "first_paid_at"]),
        fct_mrr=pd.DataFrame(rows, columns=["customer_id", "month", "mrr_usd", "movement"]),
        monthly_revenue=base.monthly_revenue, one_off_payments=base.one_off_payments,
        clv_formula=base.clv_formula.iloc[0:0],
        latest_complete_month=base.latest_complete_month, fitted_at=base.fitted_at)
    result = compute_customer_clv(data, discount_rate_annual=0.10)
    fits = result.model_fits.set_index(["model", "segment"])
    fit = fits.loc[("sbg", "smb")]
    clv = result.customer_clv.set_index("customer_id")
    life = sbg_cohort_survival(data.fct_mrr, data.latest_complete_month)
    alive_id = next(c for c in clv.index if data.dim_customers.set_index("customer_id").loc[c, "current_mrr"] > 0)
    n = int(life.loc[alive_id, "age"])
    d = 1.1 ** (1 / 12) - 1
    expected = 10.0 * 0.75 * cm.sbg_expected_discounted_periods(fit["alpha"], fit["beta"], n, d, 12)
    assert clv.loc[alive_id, "clv_predicted_12m_usd"] == pytest.approx(expected, abs=0.006)
    churned = [c for c in clv.index if data.dim_customers.set_index("customer_id").loc[c, "current_mrr"] == 0]
    assert (clv.loc[churned, "clv_predicted_36m_usd"] == 0).all()
    assert customer_clv_violations(result.customer_clv.reset_index(drop=True)).empty


def test_check_rules_catch_bad_rows():
    good = pd.DataFrame({"customer_id": ["a"], "clv_predicted_12m_usd": [10.0], "clv_predicted_24m_usd": [15.0],
                         "clv_predicted_36m_usd": [18.0], "survival_probability_12m": [0.8], "p_alive": [None]})
    assert customer_clv_violations(good).empty
    shrinking = good.assign(clv_predicted_36m_usd=[12.0])
    negative = good.assign(clv_predicted_12m_usd=[-1.0])
    bad_prob = good.assign(p_alive=[1.2])
    for bad in (shrinking, negative, bad_prob):
        assert len(customer_clv_violations(bad)) == 1
    retention = pd.DataFrame({"cohort_month": ["2024-01-01"] * 2, "months_since_acquisition": [0, 1],
                              "cohort_size": [4, 4], "active_customers": [3, 3], "logo_retention_rate": [0.75, 0.75]})
    assert len(cohort_retention_violations(retention)) == 1  # month 0 must be 1
    fits = pd.DataFrame({"fitted_at": [1, 2, 2], "model": ["sbg"] * 3, "segment": ["a", "a", "b"],
                         "converged": [False, True, False], "message": ["old", "ok", "flat"]})
    assert failed_fits(fits) == ["sbg/b: flat"]  # only the latest run counts


def test_sbg_survival_check():
    fits = pd.DataFrame({"fitted_at": [1, 1, 1], "model": ["sbg", "sbg", "bgnbd"], "segment": ["smb", "all", "all"],
                         "alpha": [0.704, 0.668, 4.4], "beta": [1.182, 3.806, None]})
    assert increasing_sbg_survival(fits) == []  # real sBG curves never rise
    assert increasing_sbg_survival(fits.assign(alpha=[0.704, -1.0, 4.4])) == ["all"]  # S(t) = nan: fails
