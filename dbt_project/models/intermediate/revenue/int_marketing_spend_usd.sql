-- Marketing spend in USD at the rate of spend_date (kpis.md), bucketed by UTC month.
with

spend as (
    select * from {{ ref('stg_finance__marketing_spend') }}
)

select
    spend.spend_date,
    cast({{ dbt.date_trunc('month', 'spend.spend_date') }} as date) as spend_month,
    spend.channel,
    spend.campaign,
    spend.currency,
    spend.amount,
    {{ to_usd('spend.amount', 'fx') }} as amount_usd
from spend
{{ fx_join('fx', 'spend.currency', 'spend.spend_date') }}
