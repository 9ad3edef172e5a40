-- One row per calendar month (UTC) from the first month of any revenue-side data to the current
-- month. Written once; every monthly revenue model takes its own range from it, so months with no
-- activity still appear (kpis.md: periods with zero activity inside the data's range).
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

first_dates as (
    select min(cast(created_at as date)) as first_day from {{ ref('stg_billing__invoices') }}
    union all
    select min(cast(service_period_start_at as date)) from {{ ref('stg_billing__invoice_line_items') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_billing__refunds') }}
    union all
    select min(spend_date) from {{ ref('stg_finance__marketing_spend') }}
    union all
    select min(period_month) from {{ ref('stg_finance__operating_costs') }}
),

bounds as (
    select
        cast({{ dbt.date_trunc('month', '(select min(first_day) from first_dates)') }} as date) as first_day,
        as_of.current_month as last_day
    from as_of
),

days as (
    {{ date_series('bounds', 'bounds.first_day', 'bounds.last_day') }}
),

months as (
    -- the day series is cheap (a few thousand rows); keeping first days avoids a second engine-specific macro
    select date_day as month
    from days
    where date_day = cast({{ dbt.date_trunc('month', 'date_day') }} as date)
)

select
    month,
    cast({{ dbt.last_day('month', 'month') }} as date) as month_end
from months
