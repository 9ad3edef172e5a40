-- Every CRM user (the rows of dim_sales_reps) x every month of the sales month spine: the grain of
-- kpi_sales_rep_monthly, so a rep's quiet months still have a row. Also decides whether the rep
-- was active in the month (used for active_reps in kpi_sales_company_monthly):
--   hired on or before the month's last day (a missing hire date counts as hired), and
--   either still active today, or with a completed activity in that month or a later one.
-- The CRM has no termination date, so a rep who has left counts as active up to the month of
-- their last completed activity and not after it.
with

users as (
    select * from {{ ref('stg_crm__users') }}
),

month_spine as (
    select * from {{ ref('int_month_spine') }}
),

completed_activities as (
    select * from ({{ sales_records_without_orphans('activities', 'activity_id') }}) as activities
    where status = 'completed'
),

last_activity as (
    select
        owner_id as rep_id,
        cast({{ dbt.date_trunc('month', 'max(activity_at)') }} as date) as last_activity_month
    from completed_activities
    group by owner_id
)

select
    users.user_id as rep_id,
    month_spine.month,
    month_spine.month_end,
    month_spine.is_partial_period,
    users.role,
    coalesce(users.hired_at <= month_spine.month_end, true)
        and (
            coalesce(users.is_active, false)
            or coalesce(last_activity.last_activity_month >= month_spine.month, false)
        ) as is_active_in_month
from users
cross join month_spine
left join last_activity
    on users.user_id = last_activity.rep_id
