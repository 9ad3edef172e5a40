-- Revenue per month, quarter and year, from the period of the first invoice through the current
-- one (kpis.md, kpi_revenue). Quarter and year sums are sums of their month rows; their ratios are
-- recomputed from those sums, never averaged.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

invoice_lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

refunds as (
    select * from {{ ref('int_refunds') }}
),

operating_costs as (
    select * from {{ ref('int_operating_costs_usd') }}
),

report_months as (
    select months.month
    from months
    cross join as_of
    where months.month >= (select cast({{ dbt.date_trunc('month', 'min(created_at)') }} as date) from invoices)
        and months.month <= as_of.current_month
),

gross_by_month as (
    -- lines of paid invoices, bucketed by invoice date; amounts exclude tax
    select
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as month,
        sum(amount_usd) as gross_revenue_usd
    from invoice_lines
    where invoice_status = 'paid'
    group by 1
),

paid_invoices_by_month as (
    select
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        count(distinct invoice_id) as paid_invoices
    from invoices
    where status = 'paid' and total > 0
    group by 1
),

refunds_by_month as (
    select
        refund_month as month,
        sum(amount_usd) as refunds_usd
    from refunds
    where status = 'succeeded'
        and not is_orphan  -- counts once its charge lands
    group by 1
),

cogs_by_month as (
    select
        period_month as month,
        sum(amount_usd) as cogs_usd
    from operating_costs
    where cost_type = 'cogs'
    group by 1
),

monthly as (
    select
        report_months.month,
        coalesce(gross_by_month.gross_revenue_usd, 0) as gross_revenue_usd,
        coalesce(refunds_by_month.refunds_usd, 0) as refunds_usd,
        coalesce(paid_invoices_by_month.paid_invoices, 0) as paid_invoices,
        coalesce(cogs_by_month.cogs_usd, 0) as cogs_usd
    from report_months
    left join gross_by_month on report_months.month = gross_by_month.month
    left join refunds_by_month on report_months.month = refunds_by_month.month
    left join paid_invoices_by_month on report_months.month = paid_invoices_by_month.month
    left join cogs_by_month on report_months.month = cogs_by_month.month
),

period_sums as (
    {% for period_type in ['month', 'quarter', 'year'] %}
    select
        '{{ period_type }}' as period_type,
        cast({{ dbt.date_trunc(period_type, 'month') }} as date) as period_start,
        sum(gross_revenue_usd) as gross_revenue_usd,
        sum(refunds_usd) as refunds_usd,
        sum(gross_revenue_usd) - sum(refunds_usd) as net_revenue_usd,
        sum(paid_invoices) as paid_invoices,
        sum(cogs_usd) as cogs_usd
    from monthly
    group by 1, 2
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

with_previous as (
    select
        period_sums.*,
        -- periods of a type are contiguous, so the previous row is the previous period
        lag(net_revenue_usd) over (partition by period_type order by period_start) as previous_net_revenue_usd
    from period_sums
)

select
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    period_start,
    cast(gross_revenue_usd as decimal(18, 2)) as gross_revenue_usd,
    cast(refunds_usd as decimal(18, 2)) as refunds_usd,
    cast(net_revenue_usd as decimal(18, 2)) as net_revenue_usd,
    cast(paid_invoices as {{ dbt.type_bigint() }}) as paid_invoices,
    {{ exact_ratio('gross_revenue_usd', 'paid_invoices', 2) }} as average_order_value_usd,
    {{ exact_ratio('net_revenue_usd - previous_net_revenue_usd', 'previous_net_revenue_usd', 4, 100) }} as growth_pct,
    cast(cogs_usd as decimal(18, 2)) as cogs_usd,
    {{ exact_ratio('net_revenue_usd - cogs_usd', 'net_revenue_usd', 4, 100) }} as gross_margin_pct,
    -- the period holds the current month, so it is not over
    (
        (period_type = 'month' and period_start = as_of.current_month)
        or (period_type = 'quarter' and period_start = cast({{ dbt.date_trunc('quarter', 'as_of.current_month') }} as date))
        or (period_type = 'year' and period_start = cast({{ dbt.date_trunc('year', 'as_of.current_month') }} as date))
    ) as is_partial_period
from with_previous
cross join as_of
