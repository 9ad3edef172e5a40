-- Company-wide sales KPIs per month: the totals of kpi_sales_rep_monthly recomputed from the facts
-- (medians and averages cannot be summed from rep rows), plus headcount and sales velocity.
with

month_spine as (
    select * from {{ ref('int_month_spine') }}
),

rep_months as (
    select * from {{ ref('int_sales__rep_months') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

quotas as (
    select * from {{ ref('int_sales__quotas_usd') }}
),

stage_intervals as (
    select * from {{ ref('int_sales__opportunity_stage_intervals') }}
),

closed_deals as (
    select
        cast({{ dbt.date_trunc('month', 'close_date') }} as date) as month,
        sum(case when is_won and type in {{ sales_booking_types() }} then amount_usd end) as bookings_usd,
        count(case when is_won and type in {{ sales_booking_types() }} then 1 end) as booking_deals,
        count(case when is_won then 1 end) as deals_won,
        count(case when is_lost then 1 end) as deals_lost,
        sum(sales_cycle_days) as total_sales_cycle_days,
        count(sales_cycle_days) as won_deals_with_cycle,
        {{ wh_median('sales_cycle_days') }} as median_sales_cycle_days
    from opportunities
    where is_closed
    group by 1
),

monthly_quotas as (
    select
        month,
        sum(quota_usd) as quota_usd
    from quotas
    group by month
),

active_account_executives as (
    select
        month,
        count(*) as active_reps
    from rep_months
    where role = 'ae' and is_active_in_month
    group by month
),

-- Open at month start = in an open stage at the end of the month's previous day, per stage
-- history (the same rule as kpi_pipeline_daily): the history row in force is the latest one
-- with changed_at before the month's first instant.
open_at_month_start as (
    select
        month_spine.month,
        count(distinct stage_intervals.opportunity_id) as open_opportunities
    from month_spine
    inner join stage_intervals
        on stage_intervals.valid_from < cast(month_spine.month as timestamp)
        and (stage_intervals.valid_to is null or stage_intervals.valid_to >= cast(month_spine.month as timestamp))
    where stage_intervals.is_open_stage
    group by month_spine.month
),

joined as (
    select
        month_spine.month,
        month_spine.is_partial_period,
        coalesce(closed_deals.bookings_usd, 0) as bookings_usd,
        closed_deals.booking_deals,
        monthly_quotas.quota_usd,
        coalesce(closed_deals.deals_won, 0) as deals_won,
        coalesce(closed_deals.deals_lost, 0) as deals_lost,
        closed_deals.total_sales_cycle_days,
        closed_deals.won_deals_with_cycle,
        closed_deals.median_sales_cycle_days,
        coalesce(open_at_month_start.open_opportunities, 0) as open_opportunities_at_month_start,
        coalesce(active_account_executives.active_reps, 0) as active_reps
    from month_spine
    left join closed_deals
        on month_spine.month = closed_deals.month
    left join monthly_quotas
        on month_spine.month = monthly_quotas.month
    left join open_at_month_start
        on month_spine.month = open_at_month_start.month
    left join active_account_executives
        on month_spine.month = active_account_executives.month
),

ratios as (
    -- unrounded factors of sales velocity, so it does not compound their display rounding
    select
        *,
        {{ safe_divide('deals_won', 'deals_won + deals_lost') }} as exact_win_rate,
        {{ safe_divide('bookings_usd', 'booking_deals') }} as exact_average_deal_size_usd,
        {{ safe_divide('total_sales_cycle_days', 'won_deals_with_cycle') }} as exact_avg_sales_cycle_days
    from joined
)

select
    cast(month as date) as month,
    cast(is_partial_period as boolean) as is_partial_period,
    cast(bookings_usd as decimal(18, 2)) as bookings_usd,
    cast(quota_usd as decimal(18, 2)) as quota_usd,
    {{ exact_ratio('bookings_usd', 'quota_usd', 2, multiplier=100) }} as target_attainment_pct,
    cast(deals_won as bigint) as deals_won,
    cast(deals_lost as bigint) as deals_lost,
    {{ exact_ratio('deals_won', 'deals_won + deals_lost', 4) }} as win_rate,
    {{ exact_ratio('bookings_usd', 'booking_deals', 2) }} as average_deal_size_usd,
    {{ exact_ratio('total_sales_cycle_days', 'won_deals_with_cycle', 2) }} as avg_sales_cycle_days,
    cast(median_sales_cycle_days as decimal(18, 2)) as median_sales_cycle_days,
    cast(open_opportunities_at_month_start as bigint) as open_opportunities_at_month_start,
    cast(active_reps as bigint) as active_reps,
    {{ exact_ratio('bookings_usd', 'active_reps', 2) }} as sales_per_rep_usd,
    cast(
        {{ safe_divide('open_opportunities_at_month_start * exact_win_rate * exact_average_deal_size_usd', 'exact_avg_sales_cycle_days') }}
        as decimal(18, 2)
    ) as sales_velocity_usd_per_day
from ratios
