-- Invariant 5 (kpis.md): quarter and year rows of kpi_revenue equal the sums of their month rows
-- (sums only; ratios are recomputed, checked by unit tests). Returns the rows that disagree.
with

revenue as (
    select * from {{ ref('kpi_revenue') }}
),

month_rows as (
    select * from revenue where period_type = 'month'
),

rollups_from_months as (
    {% for period_type in ['quarter', 'year'] %}
    select
        '{{ period_type }}' as period_type,
        cast({{ dbt.date_trunc(period_type, 'period_start') }} as date) as period_start,
        sum(gross_revenue_usd) as gross_revenue_usd,
        sum(refunds_usd) as refunds_usd,
        sum(net_revenue_usd) as net_revenue_usd,
        sum(paid_invoices) as paid_invoices,
        sum(cogs_usd) as cogs_usd
    from month_rows
    group by 1, 2
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

rollup_rows as (
    select * from revenue where period_type in ('quarter', 'year')
)

select
    coalesce(rollup_rows.period_type, rollups_from_months.period_type) as period_type,
    coalesce(rollup_rows.period_start, rollups_from_months.period_start) as period_start
from rollup_rows
full outer join rollups_from_months
    on rollup_rows.period_type = rollups_from_months.period_type
    and rollup_rows.period_start = rollups_from_months.period_start
where rollup_rows.period_type is null
    or rollups_from_months.period_type is null
    or rollup_rows.gross_revenue_usd <> rollups_from_months.gross_revenue_usd
    or rollup_rows.refunds_usd <> rollups_from_months.refunds_usd
    or rollup_rows.net_revenue_usd <> rollups_from_months.net_revenue_usd
    or rollup_rows.paid_invoices <> rollups_from_months.paid_invoices
    or rollup_rows.cogs_usd <> rollups_from_months.cogs_usd
