-- Open pipeline per day and open stage, from stage history: for every day of dim_date up to as_of,
-- the opportunities whose history row in force at the end of that day (the latest with changed_at
-- on or before the day's end) is in the stage, with that row's amount and probability (the
-- opportunity's own when NULL), in USD at the opportunity's close_date rate.
--
-- Set-based and linear in size: an interval [valid_from, valid_to) puts the opportunity in its
-- stage at the end of every day d with date(valid_from) <= d < date(valid_to). Rather than
-- range-joining every interval to every day it covers (intervals x days rows), each interval
-- becomes two events, +1 / +amount on its first day and -1 / -amount on the day it ends, and a
-- running sum per stage over the days gives what is open at each day's end. Same result as the
-- range join, O(intervals + days x stages) on every engine (PostgreSQL has no range-join operator).
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

dim_date as (
    select * from {{ ref('dim_date') }}
),

stage_intervals as (
    select * from {{ ref('int_sales__opportunity_stage_intervals') }}
    where is_open_stage
),

open_stages as (
    {{ sales_funnel_stage_rows(open_only=true) }}
),

report_days as (
    select dim_date.date_day
    from dim_date
    cross join as_of
    where dim_date.date_day <= as_of.as_of_date
),

first_report_day as (
    select min(date_day) as first_day from report_days
),

interval_days as (
    select
        stage_name,
        opportunity_id,
        cast(valid_from as date) as first_day_in_stage,
        cast(valid_to as date) as first_day_out_of_stage,
        coalesce(amount_usd, 0) as amount_usd,
        coalesce(weighted_amount_usd, 0) as weighted_amount_usd
    from stage_intervals
    -- an interval that ends on the day it starts holds at no day's end
    where valid_to is null or cast(valid_to as date) > cast(valid_from as date)
),

-- events before the first reported day are moved onto it, so the running sum starts right
stage_events as (
    select
        interval_days.stage_name,
        case
            when interval_days.first_day_in_stage < first_report_day.first_day then first_report_day.first_day
            else interval_days.first_day_in_stage
        end as event_day,
        1 as opportunities_change,
        interval_days.amount_usd as amount_change,
        interval_days.weighted_amount_usd as weighted_amount_change
    from interval_days
    cross join first_report_day

    union all

    select
        interval_days.stage_name,
        case
            when interval_days.first_day_out_of_stage < first_report_day.first_day then first_report_day.first_day
            else interval_days.first_day_out_of_stage
        end as event_day,
        -1 as opportunities_change,
        -interval_days.amount_usd as amount_change,
        -interval_days.weighted_amount_usd as weighted_amount_change
    from interval_days
    cross join first_report_day
    where interval_days.first_day_out_of_stage is not null
),

daily_changes as (
    select
        stage_name,
        event_day,
        sum(opportunities_change) as opportunities_change,
        sum(amount_change) as amount_change,
        sum(weighted_amount_change) as weighted_amount_change
    from stage_events
    group by stage_name, event_day
),

stage_days as (
    select
        report_days.date_day,
        open_stages.stage_name,
        open_stages.stage_order
    from report_days
    cross join open_stages
),

running_totals as (
    select
        stage_days.date_day,
        stage_days.stage_name,
        stage_days.stage_order,
        sum(coalesce(daily_changes.opportunities_change, 0)) over stage_to_date as open_opportunities,
        sum(coalesce(daily_changes.amount_change, 0)) over stage_to_date as open_pipeline_usd,
        sum(coalesce(daily_changes.weighted_amount_change, 0)) over stage_to_date as weighted_pipeline_usd
    from stage_days
    left join daily_changes
        on stage_days.stage_name = daily_changes.stage_name
        and stage_days.date_day = daily_changes.event_day
    window stage_to_date as (
        partition by stage_days.stage_name
        order by stage_days.date_day
        rows between unbounded preceding and current row
    )
)

select
    cast(date_day as date) as date_day,
    cast(stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(stage_order as integer) as stage_order,
    cast(open_opportunities as bigint) as open_opportunities,
    cast(open_pipeline_usd as decimal(18, 2)) as open_pipeline_usd,
    cast(weighted_pipeline_usd as decimal(18, 2)) as weighted_pipeline_usd
from running_totals
