"""Python analytics assets: cohort retention and customer lifetime value, written to schema marts.

The maths is in orchestration/analytics (pure functions); this module only reads the marts,
calls it, writes the results back and checks them. They read and write the marts of the build
(`Settings.marts_schema`: `marts` in the DuckDB build file, the build schema on PostgreSQL), never
what readers see (orchestration/publishing.py).
"""

import dagster as dg
import pandas as pd
from dagster_dbt import get_asset_key_for_model

from orchestration.analytics.checks import (
    cohort_retention_violations,
    customer_clv_violations,
    failed_fits,
    increasing_sbg_survival,
)
from orchestration.analytics.clv import ClvInputs, compute_customer_clv
from orchestration.analytics.retention import cohort_retention
from orchestration.analytics.schemas import python_mart_types
from orchestration.resources import WarehouseResource

ANALYTICS_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def build_analytics_assets(dbt_assets: dg.AssetsDefinition) -> tuple[list, list]:
    """(assets, asset checks) downstream of the dbt marts."""
    def dbt_key(model: str) -> dg.AssetKey:
        return get_asset_key_for_model([dbt_assets], model)

    as_of_key = dbt_key("int_as_of")

    @dg.asset(
        key=dg.AssetKey(["marts", "cohort_retention"]),
        deps=[dbt_key("fct_mrr"), as_of_key],
        group_name="analytics",
        kinds={"python"},
        retry_policy=ANALYTICS_RETRY,
        description="Logo and revenue retention by MRR cohort and months since acquisition (kpis.md).",
    )
    def cohort_retention_asset(warehouse: WarehouseResource) -> dg.MaterializeResult:
        marts = warehouse.hold_run_lock().marts_schema
        with warehouse.connect() as wh:
            latest = pd.Timestamp(wh.fetchall("select latest_complete_month from intermediate.int_as_of")[0][0])
            mrr = wh.query_df(f"select customer_id, month, mrr_usd from {marts}.fct_mrr")
            table = cohort_retention(mrr, latest)
            wh.write_df(f"{marts}.cohort_retention", table, python_mart_types()["cohort_retention"])
        return dg.MaterializeResult(metadata={"rows": len(table), "cohorts": int(table["cohort_month"].nunique())})

    @dg.asset_check(asset=cohort_retention_asset, blocking=True,
                    description="Retention at month 0 is 1 for every cohort; never above the cohort size.")
    def cohort_retention_starts_at_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        marts = warehouse.settings().marts_schema
        with warehouse.connect() as wh:
            bad = len(cohort_retention_violations(wh.query_df(f"select * from {marts}.cohort_retention")))
        return dg.AssetCheckResult(passed=bad == 0, metadata={"failing_rows": bad})

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(["marts", "customer_clv"], deps=[dbt_key("dim_customers"), dbt_key("fct_mrr"),
                         dbt_key("kpi_revenue"), dbt_key("fct_invoice_lines"),
                         dbt_key("int_customer_clv_formula"), as_of_key],
                         group_name="analytics", kinds={"python"},
                         description="Historical, formula and predicted CLV per customer (kpis.md)."),
            dg.AssetSpec(["marts", "clv_model_fits"], group_name="analytics", kinds={"python"},
                         description="Parameters and diagnostics per model and segment, one set per as-of date."),
        ],
        retry_policy=ANALYTICS_RETRY,
    )
    def customer_clv_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.hold_run_lock()
        marts = settings.marts_schema
        with warehouse.connect() as wh:
            as_of_at, latest = wh.fetchall("select as_of_at, latest_complete_month from intermediate.int_as_of")[0]
            inputs = ClvInputs(
                dim_customers=wh.query_df(
                    "select customer_id, segment, status, current_mrr, lifetime_revenue, first_paid_at "
                    f"from {marts}.dim_customers"),
                # sbg_cohort_survival reads each customer's first month with MRR and first churn
                # month up to the latest complete month: only those rows leave the warehouse
                fct_mrr=wh.query_df(" union all ".join(
                    "select customer_id, month, mrr_usd, movement from ("
                    "  select customer_id, month, mrr_usd, movement,"
                    "    row_number() over (partition by customer_id order by month) as nth"
                    f"  from {marts}.fct_mrr where month <= '{pd.Timestamp(latest).date()}' and {first_of}"
                    f") as first_{name} where nth = 1"
                    for name, first_of in (("paid", "mrr_usd > 0"), ("churn", "movement = 'churn'")))),
                monthly_revenue=wh.query_df(
                    f"select period_start as month, net_revenue_usd, cogs_usd from {marts}.kpi_revenue "
                    "where period_type = 'month'"),
                # compute_customer_clv models the payments of one-off buyers only
                one_off_payments=wh.query_df(
                    f"select customer_id, paid_at, sum(amount_usd) as amount_usd from {marts}.fct_invoice_lines "
                    f"where invoice_status = 'paid' and customer_id in (select customer_id from {marts}.dim_customers "
                    "where status = 'one_off') group by customer_id, invoice_id, paid_at having sum(amount_usd) > 0"),
                clv_formula=wh.query_df(
                    "select customer_id, clv_formula_usd, expected_lifetime_months "
                    "from intermediate.int_customer_clv_formula"),
                latest_complete_month=pd.Timestamp(latest),
                fitted_at=pd.Timestamp(as_of_at),
            )
            result = compute_customer_clv(inputs, settings.clv_discount_rate_annual)
            for warning in result.warnings:
                context.log.warning(f"CLV model: {warning}")
            wh.write_df(f"{marts}.customer_clv", result.customer_clv, python_mart_types()["customer_clv"])
            # history keyed by the as-of date: a re-run for the same data replaces its own rows
            wh.append_df(f"{marts}.clv_model_fits", result.model_fits, python_mart_types()["clv_model_fits"],
                         replace_where=f"fitted_at = '{pd.Timestamp(as_of_at).isoformat(sep=' ')}'")
        models = result.customer_clv["model"].value_counts().to_dict()
        yield dg.MaterializeResult(asset_key=["marts", "customer_clv"],
                                   metadata={"customers": len(result.customer_clv), **{f"model_{k}": int(v) for k, v in models.items()}})
        yield dg.MaterializeResult(asset_key=["marts", "clv_model_fits"],
                                   metadata={"fits": len(result.model_fits),
                                             "all_converged": bool(result.model_fits["converged"].fillna(False).all())})

    @dg.asset_check(asset=dg.AssetKey(["marts", "clv_model_fits"]), blocking=False,
                    description="Every model fit attempted in the latest run converged.")
    def clv_fits_converged(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        marts = warehouse.settings().marts_schema
        with warehouse.connect() as wh:
            fits = wh.query_df(f"select * from {marts}.clv_model_fits")
        failed = failed_fits(fits)
        # a fit that could not be identified from the data (too few cohorts, no repeat buyers) is a
        # warning: its customers fall back to the pooled fit; a fit that did not converge is an error
        return dg.AssetCheckResult(passed=not failed, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"fits": len(fits), "failed": "; ".join(failed) or "none"})

    @dg.asset_check(asset=dg.AssetKey(["marts", "clv_model_fits"]), blocking=True,
                    description="Every fitted sBG survival curve starts at 1 and never rises.")
    def sbg_survival_non_increasing(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        marts = warehouse.settings().marts_schema
        with warehouse.connect() as wh:
            bad = increasing_sbg_survival(wh.query_df(f"select * from {marts}.clv_model_fits"))
        return dg.AssetCheckResult(passed=not bad, metadata={"segments_failing": ", ".join(bad) or "none"})

    @dg.asset_check(asset=dg.AssetKey(["marts", "customer_clv"]), blocking=True,
                    description="Predicted CLV is non-negative and grows with the horizon; survival and P(alive) in [0, 1].")
    def customer_clv_is_sane(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        marts = warehouse.settings().marts_schema
        with warehouse.connect() as wh:
            df = wh.query_df(f"select * from {marts}.customer_clv")
        bad = len(customer_clv_violations(df))
        return dg.AssetCheckResult(passed=bad == 0, metadata={"failing_rows": bad, "customers": len(df)})

    return ([cohort_retention_asset, customer_clv_assets],
            [cohort_retention_starts_at_one, clv_fits_converged, sbg_survival_non_increasing, customer_clv_is_sane])


__all__ = ["build_analytics_assets"]
