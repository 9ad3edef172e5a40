-- MRR of each customer at the end of each month that is over (kpis.md, MRR): Σ mrr_usd of its MRR
-- lines whose service period covers the month's last day, comparing UTC dates, so a period from
-- Jan 31 to Feb 28 covers January and not February. One row per customer and month with at least
-- one covering line (MRR can be 0 there, e.g. a trial invoiced at 0).
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

mrr_lines as (
    select * from {{ ref('int_invoice_lines') }}
    where is_mrr_line
),

complete_months as (
    select months.month, months.month_end
    from months
    cross join as_of
    where months.month <= as_of.latest_complete_month
),

covering_lines as (
    select
        mrr_lines.customer_id,
        complete_months.month,
        mrr_lines.mrr_usd
    from mrr_lines
    inner join complete_months
        on cast(mrr_lines.service_period_start_at as date) <= complete_months.month_end
        and complete_months.month_end < cast(mrr_lines.service_period_end_at as date)
)

select
    customer_id,
    month,
    cast(sum(mrr_usd) as decimal(18, 2)) as mrr_usd
from covering_lines
group by customer_id, month
