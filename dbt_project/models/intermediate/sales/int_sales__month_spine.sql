-- The month spine shared by every monthly sales KPI mart: one row per UTC calendar month from
-- the first month holding any CRM sales event through the current month (kpis.md, As of), so
-- months with no activity still get a row, and the current month is flagged as partial.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

opportunities as (
    select created_at from {{ ref('stg_crm__opportunities') }}
),

leads as (
    select created_at from {{ ref('stg_crm__leads') }}
),

completed_activities as (
    select activity_at from {{ ref('stg_crm__activities') }}
    where status = 'completed'
),

quotas as (
    select period_month from {{ ref('stg_crm__quotas') }}
),

csat_responses as (
    select responded_at from {{ ref('stg_crm__csat_responses') }}
),

first_event_days as (
    select min(cast(created_at as date)) as first_day from opportunities
    union all
    select min(cast(created_at as date)) from leads
    union all
    select min(cast(activity_at as date)) from completed_activities
    union all
    select min(period_month) from quotas
    union all
    select min(cast(responded_at as date)) from csat_responses
),

bounds as (
    select
        cast({{ dbt.date_trunc('month', '(select min(first_day) from first_event_days)') }} as date) as first_month,
        as_of.current_month
    from as_of
),

days as (
    -- a day spine is the portable series we have (macro date_series); keep the first of each month
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
    months.month = as_of.current_month as is_partial_period
from months
cross join as_of
