-- One row per day from the first date in the data to the last day of the current month.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

first_dates as (
    select min(cast(created_at as date)) as first_day from {{ ref('stg_billing__invoices') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_crm__leads') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_crm__opportunities') }}
    union all
    select min(cast(activity_at as date)) from {{ ref('stg_crm__activities') }}
    union all
    select min(spend_date) from {{ ref('stg_finance__marketing_spend') }}
),

bounds as (
    select
        (select min(first_day) from first_dates) as first_day,
        cast({{ dbt.last_day('as_of.current_month', 'month') }} as date) as last_day
    from as_of
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
