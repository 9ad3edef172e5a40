-- Open opportunities at the start of a month (kpi_sales_company_monthly, the velocity factor) are
-- those open at the end of the previous day: the same count as kpi_pipeline_daily on that day,
-- summed over the five open stages. Months whose previous day is before dim_date are skipped.
-- Reads several models: Dagster shows it as an asset check of kpi_sales_company_monthly (meta dagster.ref).
{{ config(meta={'dagster': {'ref': {'name': 'kpi_sales_company_monthly'}}}) }}
with

daily_open as (
    select
        date_day,
        sum(open_opportunities) as open_opportunities
    from {{ ref('kpi_pipeline_daily') }}
    group by date_day
),

company as (
    select
        month,
        open_opportunities_at_month_start,
        cast({{ dbt.dateadd('day', -1, 'month') }} as date) as previous_day
    from {{ ref('kpi_sales_company_monthly') }}
)

select
    company.month,
    company.open_opportunities_at_month_start,
    daily_open.open_opportunities as open_at_end_of_previous_day
from company
inner join daily_open
    on company.previous_day = daily_open.date_day
where company.open_opportunities_at_month_start <> daily_open.open_opportunities
