-- Refunds in USD at the rate of the refund's own date (kpis.md), with the customer of the refunded
-- charge. Every status is kept; revenue KPIs take status = 'succeeded'. A refund whose charge is not
-- in staging is kept with is_orphan = true and counts in no KPI until its charge lands
-- (raw_sources.md, bad input: a foreign key pointing to nothing).
with

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

charges as (
    select * from {{ ref('stg_billing__charges') }}
)

select
    refunds.refund_id,
    refunds.charge_id,
    charges.customer_id,
    charges.invoice_id,
    charges.charge_id is null as is_orphan,
    refunds.status,
    refunds.created_at,
    cast({{ dbt.date_trunc('month', 'refunds.created_at') }} as date) as refund_month,
    refunds.currency,
    refunds.amount,
    {{ to_usd('refunds.amount', 'fx') }} as amount_usd
from refunds
left join charges
    on refunds.charge_id = charges.charge_id
{{ fx_join('fx', 'refunds.currency', 'refunds.created_at') }}
