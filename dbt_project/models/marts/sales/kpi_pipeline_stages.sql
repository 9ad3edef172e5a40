-- Funnel by creation cohort: for the opportunities created in cohort_month, how many reached each
-- funnel stage. Reaching a later stage implies the earlier ones (highest_stage_reached from stage
-- history), and a lost opportunity counts up to its furthest open stage: closed_lost is an
-- outcome and has no row. Grain: every month of the sales month spine x the six funnel stages.
with

month_spine as (
    select * from {{ ref('int_month_spine') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

funnel_stages as (
    {{ sales_funnel_stage_rows() }}
),

cohort_opportunities as (
    select
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as cohort_month,
        highest_stage_order,
        is_won
    from opportunities
),

stage_counts as (
    select
        cohort_opportunities.cohort_month,
        funnel_stages.stage_name,
        count(*) as reached,
        count(case when cohort_opportunities.is_won then 1 end) as won
    from cohort_opportunities
    inner join funnel_stages
        on funnel_stages.stage_order <= cohort_opportunities.highest_stage_order
    group by cohort_opportunities.cohort_month, funnel_stages.stage_name
),

cohort_stages as (
    select
        month_spine.month as cohort_month,
        month_spine.is_partial_period,
        funnel_stages.stage_name,
        funnel_stages.stage_order,
        coalesce(stage_counts.reached, 0) as reached,
        coalesce(stage_counts.won, 0) as won
    from month_spine
    cross join funnel_stages
    left join stage_counts
        on month_spine.month = stage_counts.cohort_month
        and funnel_stages.stage_name = stage_counts.stage_name
),

with_previous_stage as (
    select
        *,
        -- NULL for prospecting: the funnel has no previous stage
        lag(reached) over (partition by cohort_month order by stage_order) as reached_previous_stage
    from cohort_stages
),

conversion as (
    select
        *,
        {{ exact_ratio('reached', 'reached_previous_stage', 4) }} as conversion_from_previous_rate
    from with_previous_stage
)

select
    cast(cohort_month as date) as cohort_month,
    cast(stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(stage_order as integer) as stage_order,
    cast(is_partial_period as boolean) as is_partial_period,
    cast(reached as bigint) as reached,
    conversion_from_previous_rate,
    cast(1 - conversion_from_previous_rate as decimal(18, 4)) as leakage_rate,
    cast(won as bigint) as won
from conversion
