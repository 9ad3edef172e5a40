-- Invariant 2b (kpis.md): Σ net_revenue_usd over the month rows of kpi_revenue = Σ paid line
-- amounts in USD − Σ succeeded refunds in USD, computed straight from staging (each amount
-- converted at its own date and rounded to the cent, like the marts). Staging is limited to the
-- marts' range (first invoice month .. current month), as the contract bounds the periods. Lines
-- whose invoice or price and refunds whose charge is not staged wait for it (raw_sources.md: orphans).
-- Reads several models: Dagster shows it as an asset check of kpi_revenue (meta dagster.ref).
{{ config(meta={'dagster': {'ref': {'name': 'kpi_revenue'}}}) }}
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

report_range as (
    select
        (select cast({{ dbt.date_trunc('month', 'min(created_at)') }} as date) from invoices) as first_month,
        cast({{ dbt.dateadd('month', 1, 'as_of.current_month') }} as date) as end_month_exclusive
    from as_of
),

paid_lines as (
    select sum({{ to_usd(minor_to_major('line_items.amount_minor', 'invoices.currency'), 'fx') }}) as amount_usd
    from {{ ref('stg_billing__invoice_line_items') }} as line_items
    inner join invoices
        on line_items.invoice_id = invoices.invoice_id
    left join {{ ref('stg_billing__prices') }} as prices
        on line_items.price_id = prices.price_id
    {{ fx_join('fx', 'invoices.currency', 'invoices.created_at') }}
    cross join report_range
    where invoices.status = 'paid'
        and (line_items.price_id is null or prices.price_id is not null)
        and cast(invoices.created_at as date) >= report_range.first_month
        and cast(invoices.created_at as date) < report_range.end_month_exclusive
),

succeeded_refunds as (
    select sum({{ to_usd('refunds.amount', 'fx') }}) as amount_usd
    from {{ ref('stg_billing__refunds') }} as refunds
    inner join {{ ref('stg_billing__charges') }} as charges
        on refunds.charge_id = charges.charge_id
    {{ fx_join('fx', 'refunds.currency', 'refunds.created_at') }}
    cross join report_range
    where refunds.status = 'succeeded'
        and cast(refunds.created_at as date) >= report_range.first_month
        and cast(refunds.created_at as date) < report_range.end_month_exclusive
),

mart as (
    select sum(net_revenue_usd) as net_revenue_usd
    from {{ ref('kpi_revenue') }}
    where period_type = 'month'
)

select
    mart.net_revenue_usd,
    coalesce(paid_lines.amount_usd, 0) - coalesce(succeeded_refunds.amount_usd, 0) as staging_net_revenue_usd
from mart
cross join paid_lines
cross join succeeded_refunds
where coalesce(mart.net_revenue_usd, 0) <> coalesce(paid_lines.amount_usd, 0) - coalesce(succeeded_refunds.amount_usd, 0)
