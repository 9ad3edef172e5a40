-- The data's date range, written once: from the first dated event in any source to the last day
-- of the current month (kpis.md, As of). dim_date and int_month_spine are cut from it.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

first_days as (
    select min(cast(created_at as date)) as first_day from {{ ref('stg_billing__invoices') }}
    union all
    select min(cast(service_period_start_at as date)) from {{ ref('stg_billing__invoice_line_items') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_billing__refunds') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_crm__leads') }}
    union all
    select min(cast(created_at as date)) from {{ ref('stg_crm__opportunities') }}
    union all
    select min(cast(activity_at as date)) from {{ ref('stg_crm__activities') }}
    where status = 'completed'
    union all
    select min(period_month) from {{ ref('stg_crm__quotas') }}
    union all
    select min(cast(responded_at as date)) from {{ ref('stg_crm__csat_responses') }}
    union all
    select min(spend_date) from {{ ref('stg_finance__marketing_spend') }}
    union all
    select min(period_month) from {{ ref('stg_finance__operating_costs') }}
)

select
    -- with nothing landed yet, the range is just the current month
    coalesce((select min(first_day) from first_days), as_of.current_month) as first_day,
    cast({{ dbt.last_day('as_of.current_month', 'month') }} as date) as last_day,
    as_of.current_month
from as_of
