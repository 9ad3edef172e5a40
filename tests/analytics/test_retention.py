"""cohort_retention on a hand-made fct_mrr, with every number worked out by hand."""

import pandas as pd
import pytest

from orchestration.analytics.retention import cohort_retention


def mrr_rows(rows):
    return pd.DataFrame(rows, columns=["customer_id", "month", "mrr_usd"])


def test_cohort_retention_by_hand():
    fct = mrr_rows([
        # cohort 2024-01: A (100, 100, churns in March), B (50, 80 expansion, 80)
        ("A", "2024-01-01", 100), ("A", "2024-02-01", 100), ("A", "2024-03-01", 0),
        ("B", "2024-01-01", 50), ("B", "2024-02-01", 80), ("B", "2024-03-01", 80),
        # cohort 2024-02: C (30), churns in March, reactivates in April (after latest month: ignored)
        ("C", "2024-02-01", 30), ("C", "2024-03-01", 0), ("C", "2024-04-01", 30),
    ])
    out = cohort_retention(fct, pd.Timestamp("2024-03-01"))
    got = {(str(r.cohort_month), r.months_since_acquisition): r for r in out.itertuples()}
    assert len(out) == 3 + 2  # Jan cohort k=0..2, Feb cohort k=0..1
    jan0, jan1, jan2 = got[("2024-01-01", 0)], got[("2024-01-01", 1)], got[("2024-01-01", 2)]
    assert (jan0.cohort_size, jan0.active_customers, jan0.cohort_mrr_usd) == (2, 2, 150)
    assert jan0.logo_retention_rate == 1 and jan0.revenue_retention_rate == 1
    assert (jan1.active_customers, jan1.cohort_mrr_usd) == (2, 180)
    assert jan1.revenue_retention_rate == pytest.approx(180 / 150)  # 1.2: expansion beats churn
    assert (jan2.active_customers, jan2.cohort_mrr_usd) == (1, 80)
    assert jan2.logo_retention_rate == 0.5 and jan2.revenue_retention_rate == pytest.approx(80 / 150)
    feb1 = got[("2024-02-01", 1)]
    assert (feb1.cohort_size, feb1.active_customers, feb1.logo_retention_rate) == (1, 0, 0)


def test_empty_input_gives_empty_table():
    assert cohort_retention(mrr_rows([]), pd.Timestamp("2024-03-01")).empty
