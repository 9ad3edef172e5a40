-- One row per day from the first date in the data to the last day of the current month.
with

bounds as (
    select * from {{ ref('int_data_bounds') }}
),

days as (
    {{ date_series('bounds', 'bounds.first_day', 'bounds.last_day') }}
)

select
    date_day,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month,
    cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter,
    cast(extract(year from date_day) as integer) as year,
    -- ISO day of week: 1 = Monday ... 7 = Sunday
    cast(extract(isodow from date_day) as integer) as day_of_week,
    date_day = cast({{ dbt.last_day('date_day', 'month') }} as date) as is_month_end
from days
