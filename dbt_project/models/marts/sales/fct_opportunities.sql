-- One row per opportunity: USD amount at its close_date rate, stage entry times and the furthest
-- funnel stage from its stage history, and cycle lengths of won deals.
{%- set funnel_stages = sales_funnel_stages() %}
with

-- an opportunity whose account or owner is not staged waits for it (raw_sources.md, orphans)
opportunities as (
    {{ sales_records_without_orphans('opportunities', 'opportunity_id') }}
),

leads as (
    {{ sales_records_without_orphans('leads', 'lead_id') }}
),

stage_intervals as (
    select * from {{ ref('int_sales__opportunity_stage_intervals') }}
),

-- Entry time of each funnel stage. Reaching a later stage implies the earlier ones (kpis.md), so a
-- stage counts as entered at the first time the opportunity was in it or in any later stage: a
-- skipped stage takes the entry time of the next stage actually entered. closed_lost is an
-- outcome with no funnel position: its entry time is its own history row only.
stage_entries as (
    select
        opportunity_id,
        {%- for stage in funnel_stages %}
        min(case when stage_order >= {{ stage.stage_order }} then valid_from end) as entered_{{ stage.stage_name }}_at,
        {%- endfor %}
        min(case when stage_name = 'closed_lost' then valid_from end) as entered_closed_lost_at,
        max(stage_order) as highest_stage_order_in_history,
        count(*) as history_rows
    from stage_intervals
    group by opportunity_id
),

-- the lead this opportunity was converted from (the earliest, should several point at it)
source_leads as (
    select
        converted_opportunity_id as opportunity_id,
        lead_id,
        created_at as lead_created_at,
        row_number() over (partition by converted_opportunity_id order by created_at, lead_id) as lead_rank
    from leads
    where converted_opportunity_id is not null
),

joined as (
    select
        opportunities.*,
        {{ to_usd('opportunities.amount', 'fx') }} as amount_usd,
        {%- for stage in funnel_stages %}
        stage_entries.entered_{{ stage.stage_name }}_at,
        {%- endfor %}
        stage_entries.entered_closed_lost_at,
        -- from history; an opportunity without any history row falls back to its current stage
        case
            when stage_entries.history_rows > 0 then stage_entries.highest_stage_order_in_history
            else {{ sales_stage_order('opportunities.stage_name') }}
        end as highest_stage_order,
        source_leads.lead_id,
        source_leads.lead_created_at
    from opportunities
    {{ fx_join('fx', 'opportunities.currency', 'opportunities.close_date') }}
    left join stage_entries
        on opportunities.opportunity_id = stage_entries.opportunity_id
    left join source_leads
        on opportunities.opportunity_id = source_leads.opportunity_id
        and source_leads.lead_rank = 1
)

select
    cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(opportunity_type as {{ dbt.type_string() }}) as type,
    cast(lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(amount as decimal(18, 2)) as amount,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(amount_usd as decimal(18, 2)) as amount_usd,
    cast(probability as decimal(18, 2)) as probability,
    cast(created_at as timestamp) as created_at,
    cast(close_date as date) as close_date,
    cast(is_closed as boolean) as is_closed,
    cast(is_won as boolean) as is_won,
    cast(coalesce(is_closed and not is_won, false) as boolean) as is_lost,
    {%- for stage in funnel_stages %}
    cast(entered_{{ stage.stage_name }}_at as timestamp) as entered_{{ stage.stage_name }}_at,
    {%- endfor %}
    cast(entered_closed_lost_at as timestamp) as entered_closed_lost_at,
    cast({{ sales_stage_name('highest_stage_order') }} as {{ dbt.type_string() }}) as highest_stage_reached,
    cast(highest_stage_order as integer) as highest_stage_order,
    cast(case when is_won then {{ dbt.datediff('cast(created_at as date)', 'close_date', 'day') }} end as integer)
        as sales_cycle_days,
    cast(case when is_won and lead_created_at is not null
        then {{ dbt.datediff('cast(lead_created_at as date)', 'close_date', 'day') }} end as integer)
        as lead_to_close_days
from joined
