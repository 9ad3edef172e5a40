-- Sales KPIs per rep and month. Grain: every CRM user (dim_sales_reps) x every month of the sales
-- month spine, so quiet months are explicit zeros. Money in USD; ratios NULL on a 0/NULL denominator.
{%- set activity_types = [('call', 'calls'), ('email', 'emails'), ('meeting', 'meetings'),
                          ('demo', 'demos'), ('proposal', 'proposals'), ('follow_up', 'follow_ups')] %}
with

rep_months as (
    select * from {{ ref('int_sales__rep_months') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

activities as (
    select * from {{ ref('fct_activities') }}
),

leads as (
    select * from {{ ref('fct_leads') }}
),

quotas as (
    select * from {{ ref('int_sales__quotas_usd') }}
),

-- deals closed in the month, by close_date. Renewals count as won deals (deals_won, win_rate)
-- but not as bookings nor in the deal-size denominator.
closed_deals as (
    select
        owner_id as rep_id,
        cast({{ dbt.date_trunc('month', 'close_date') }} as date) as month,
        sum(case when is_won and type in {{ sales_booking_types() }} then amount_usd end) as bookings_usd,
        count(case when is_won and type in {{ sales_booking_types() }} then 1 end) as booking_deals,
        count(case when is_won then 1 end) as deals_won,
        count(case when is_lost then 1 end) as deals_lost,
        -- sales_cycle_days is set on won deals only, so these run over the month's won deals
        sum(sales_cycle_days) as total_sales_cycle_days,
        count(sales_cycle_days) as won_deals_with_cycle,
        {{ wh_median('sales_cycle_days') }} as median_sales_cycle_days
    from opportunities
    where is_closed
    group by 1, 2
),

created_pipeline as (
    select
        owner_id as rep_id,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        sum(amount_usd) as pipeline_created_usd
    from opportunities
    group by 1, 2
),

monthly_activities as (
    select
        owner_id as rep_id,
        cast({{ dbt.date_trunc('month', 'activity_at') }} as date) as month,
        {%- for activity_type, column_name in activity_types %}
        count(case when type = '{{ activity_type }}' then 1 end) as {{ column_name }},
        {%- endfor %}
        count(*) as all_activities
    from activities
    group by 1, 2
),

assigned_leads as (
    select
        owner_id as rep_id,
        created_month as month,
        count(*) as leads_assigned,
        -- leads without a completed activity have a NULL response time and drop out of the median
        {{ wh_median('response_time_hours') }} as median_lead_response_hours
    from leads
    group by 1, 2
),

joined as (
    select
        rep_months.rep_id,
        rep_months.month,
        rep_months.is_partial_period,
        rep_months.is_active_in_month,
        coalesce(closed_deals.bookings_usd, 0) as bookings_usd,
        closed_deals.booking_deals,
        quotas.quota_usd,
        coalesce(closed_deals.deals_won, 0) as deals_won,
        coalesce(closed_deals.deals_lost, 0) as deals_lost,
        closed_deals.total_sales_cycle_days,
        closed_deals.won_deals_with_cycle,
        closed_deals.median_sales_cycle_days,
        coalesce(created_pipeline.pipeline_created_usd, 0) as pipeline_created_usd,
        {%- for activity_type, column_name in activity_types %}
        coalesce(monthly_activities.{{ column_name }}, 0) as {{ column_name }},
        {%- endfor %}
        coalesce(monthly_activities.all_activities, 0) as all_activities,
        coalesce(assigned_leads.leads_assigned, 0) as leads_assigned,
        assigned_leads.median_lead_response_hours
    from rep_months
    left join closed_deals
        on rep_months.rep_id = closed_deals.rep_id and rep_months.month = closed_deals.month
    left join quotas
        on rep_months.rep_id = quotas.rep_id and rep_months.month = quotas.month
    left join created_pipeline
        on rep_months.rep_id = created_pipeline.rep_id and rep_months.month = created_pipeline.month
    left join monthly_activities
        on rep_months.rep_id = monthly_activities.rep_id and rep_months.month = monthly_activities.month
    left join assigned_leads
        on rep_months.rep_id = assigned_leads.rep_id and rep_months.month = assigned_leads.month
)

select
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(month as date) as month,
    cast(is_partial_period as boolean) as is_partial_period,
    cast(is_active_in_month as boolean) as is_active_in_month,
    cast(bookings_usd as decimal(18, 2)) as bookings_usd,
    cast(quota_usd as decimal(18, 2)) as quota_usd,
    {{ exact_ratio('bookings_usd', 'quota_usd', 2, multiplier=100) }} as quota_attainment_pct,
    cast(deals_won as bigint) as deals_won,
    cast(deals_lost as bigint) as deals_lost,
    {{ exact_ratio('deals_won', 'deals_won + deals_lost', 4) }} as win_rate,
    {{ exact_ratio('bookings_usd', 'booking_deals', 2) }} as average_deal_size_usd,
    {{ exact_ratio('total_sales_cycle_days', 'won_deals_with_cycle', 2) }} as avg_sales_cycle_days,
    cast(median_sales_cycle_days as decimal(18, 2)) as median_sales_cycle_days,
    cast(pipeline_created_usd as decimal(18, 2)) as pipeline_created_usd,
    {%- for activity_type, column_name in activity_types %}
    cast({{ column_name }} as bigint) as {{ column_name }},
    {%- endfor %}
    {{ exact_ratio('all_activities', 'deals_won', 2) }} as activities_per_won_deal,
    cast(leads_assigned as bigint) as leads_assigned,
    cast(median_lead_response_hours as decimal(18, 2)) as median_lead_response_hours
from joined
