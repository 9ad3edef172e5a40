-- Operating costs in USD at the rate of period_month (kpis.md).
with

costs as (
    select * from {{ ref('stg_finance__operating_costs') }}
)

select
    costs.period_month,
    costs.cost_type,
    costs.currency,
    costs.amount,
    {{ to_usd('costs.amount', 'fx') }} as amount_usd
from costs
{{ fx_join('fx', 'costs.currency', 'costs.period_month') }}
