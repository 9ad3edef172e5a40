-- One row per UTC calendar month of the data's range (int_data_bounds), through the current month.
-- Shared by every monthly mart, so months with no activity still appear; each mart cuts its own range.
with

bounds as (
    select
        cast({{ dbt.date_trunc('month', 'first_day') }} as date) as first_month,
        current_month
    from {{ ref('int_data_bounds') }}
),

days as (
    {{ date_series('bounds', 'bounds.first_month', 'bounds.current_month') }}
),

months as (
    select date_day as month
    from days
    where extract(day from date_day) = 1
)

select
    months.month,
    cast({{ dbt.last_day('months.month', 'month') }} as date) as month_end,
    months.month = bounds.current_month as is_partial_period
from months
cross join bounds
