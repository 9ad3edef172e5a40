-- Lead funnel per month and lead_source, plus an `all` row per month. Grain: every month of the
-- sales month spine x every lead_source seen in leads or opportunities (`unknown` for
-- opportunities without one) x plus `all`. Each fact row is fanned out to its own source and to
-- `all` before one aggregation, so `all` medians are true medians, not averages of medians.
with

month_spine as (
    select * from {{ ref('int_month_spine') }}
),

leads as (
    select * from {{ ref('fct_leads') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

lead_rows as (
    select
        created_month as month,
        coalesce(lead_source, 'unknown') as lead_source,
        is_converted,
        became_customer,
        response_time_hours
    from leads
),

opportunity_rows as (
    select
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        coalesce(lead_source, 'unknown') as lead_source
    from opportunities
),

lead_rows_fanned as (
    select * from lead_rows
    union all
    select month, 'all' as lead_source, is_converted, became_customer, response_time_hours from lead_rows
),

opportunity_rows_fanned as (
    select * from opportunity_rows
    union all
    select month, 'all' as lead_source from opportunity_rows
),

lead_counts as (
    select
        month,
        lead_source,
        count(*) as new_leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when became_customer then 1 end) as leads_to_customer,
        {{ wh_median('response_time_hours') }} as median_response_hours
    from lead_rows_fanned
    group by month, lead_source
),

opportunity_counts as (
    select
        month,
        lead_source,
        count(*) as opportunities_created
    from opportunity_rows_fanned
    group by month, lead_source
),

lead_sources as (
    select lead_source from lead_rows
    union
    select lead_source from opportunity_rows
    union
    select 'all'
),

joined as (
    select
        month_spine.month,
        lead_sources.lead_source,
        month_spine.is_partial_period,
        coalesce(lead_counts.new_leads, 0) as new_leads,
        coalesce(lead_counts.converted_leads, 0) as converted_leads,
        coalesce(lead_counts.leads_to_customer, 0) as leads_to_customer,
        coalesce(opportunity_counts.opportunities_created, 0) as opportunities_created,
        lead_counts.median_response_hours
    from month_spine
    cross join lead_sources
    left join lead_counts
        on month_spine.month = lead_counts.month and lead_sources.lead_source = lead_counts.lead_source
    left join opportunity_counts
        on month_spine.month = opportunity_counts.month and lead_sources.lead_source = opportunity_counts.lead_source
)

select
    cast(month as date) as month,
    cast(lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(is_partial_period as boolean) as is_partial_period,
    cast(new_leads as bigint) as new_leads,
    cast(converted_leads as bigint) as converted_leads,
    {{ exact_ratio('converted_leads', 'new_leads', 4) }} as lead_conversion_rate,
    cast(leads_to_customer as bigint) as leads_to_customer,
    {{ exact_ratio('leads_to_customer', 'new_leads', 4) }} as lead_to_customer_rate,
    cast(opportunities_created as bigint) as opportunities_created,
    {{ exact_ratio('opportunities_created', 'new_leads', 4) }} as opportunities_per_lead,
    cast(median_response_hours as decimal(18, 2)) as median_response_hours
from joined
