-- Customer satisfaction per month of responded_at (UTC); months without responses have
-- responses = 0 and NULL averages.
with

month_spine as (
    select * from {{ ref('int_month_spine') }}
),

-- a response whose account is not staged waits for it (raw_sources.md, orphans)
csat_responses as (
    {{ sales_records_without_orphans('csat_responses', 'csat_response_id') }}
),

monthly_responses as (
    select
        cast({{ dbt.date_trunc('month', 'responded_at') }} as date) as month,
        count(*) as responses,
        sum(score) as score_total,
        count(case when score >= 4 then 1 end) as satisfied_responses
    from csat_responses
    group by 1
)

select
    cast(month_spine.month as date) as month,
    cast(month_spine.is_partial_period as boolean) as is_partial_period,
    cast(coalesce(monthly_responses.responses, 0) as bigint) as responses,
    {{ exact_ratio('monthly_responses.score_total', 'monthly_responses.responses', 2) }} as avg_score,
    {{ exact_ratio('monthly_responses.satisfied_responses', 'monthly_responses.responses', 2, multiplier=100) }}
        as csat_pct
from month_spine
left join monthly_responses
    on month_spine.month = monthly_responses.month
