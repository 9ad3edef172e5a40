-- Invariant 1 (kpis.md): ending_mrr_usd of month M equals starting_mrr_usd of M+1.
-- Returns the months where it does not hold.
with

mrr_months as (
    select * from {{ ref('kpi_mrr_monthly') }}
)

select
    this_month.month,
    this_month.ending_mrr_usd,
    next_month.starting_mrr_usd as next_starting_mrr_usd
from mrr_months as this_month
inner join mrr_months as next_month
    on next_month.month = cast({{ dbt.dateadd('month', 1, 'this_month.month') }} as date)
where this_month.ending_mrr_usd <> next_month.starting_mrr_usd
