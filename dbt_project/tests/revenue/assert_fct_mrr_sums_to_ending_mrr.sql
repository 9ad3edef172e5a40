-- Invariant 2a (kpis.md): Σ fct_mrr.mrr_usd of a month = kpi_mrr_monthly.ending_mrr_usd of that
-- month, and every month of fct_mrr is in kpi_mrr_monthly. Returns the months that disagree.
-- Reads several models: Dagster shows it as an asset check of kpi_mrr_monthly (meta dagster.ref).
{{ config(meta={'dagster': {'ref': {'name': 'kpi_mrr_monthly'}}}) }}
with

customer_mrr as (
    select month, sum(mrr_usd) as mrr_usd
    from {{ ref('fct_mrr') }}
    group by month
),

mrr_months as (
    select * from {{ ref('kpi_mrr_monthly') }}
)

select
    coalesce(customer_mrr.month, mrr_months.month) as month,
    customer_mrr.mrr_usd as fct_mrr_sum_usd,
    mrr_months.ending_mrr_usd
from customer_mrr
full outer join mrr_months
    on customer_mrr.month = mrr_months.month
where coalesce(customer_mrr.mrr_usd, 0) <> coalesce(mrr_months.ending_mrr_usd, 0)
    or customer_mrr.month is null and mrr_months.ending_mrr_usd <> 0
    or mrr_months.month is null
