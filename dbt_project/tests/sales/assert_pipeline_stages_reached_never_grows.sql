-- kpi_pipeline_stages: reaching a later stage implies the earlier ones, so within a cohort `reached`
-- never grows along the funnel, every rate is within 0-1 and won never exceeds reached.
with

stages as (
    select
        *,
        lag(reached) over (partition by cohort_month order by stage_order) as reached_previous_stage
    from {{ ref('kpi_pipeline_stages') }}
)

select cohort_month, stage_name, reached, reached_previous_stage, won
from stages
where reached > reached_previous_stage
    or won > reached
    or conversion_from_previous_rate < 0 or conversion_from_previous_rate > 1
