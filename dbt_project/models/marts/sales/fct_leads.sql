-- One row per lead, with its response time and whether it became a paying customer.
-- No email or company name: PII stays in raw/staging.
-- Incremental: a nightly run recomputes the leads whose row, parents, activities or converted
-- account's paying status changed (macros/incremental_facts.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='lead_id',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows('lead_id', fct_leads_changed_keys()) }}"
) }}
with

-- a lead or activity whose owner (or another parent) is not staged waits for it (raw_sources.md)
leads as (
    select * from ({{ sales_records_without_orphans('leads', 'lead_id') }}) as leads
    {%- if is_incremental() %}
    where lead_id in ({{ changed_keys() }})
    {%- endif %}
),

completed_activities as (
    select * from ({{ sales_records_without_orphans('activities', 'activity_id') }}) as activities
    where status = 'completed'
    {%- if is_incremental() %}
        and lead_id in (select lead_id from leads)
    {%- endif %}
),

paying_customers as (
    select * from {{ ref('int_paying_customers') }}
),

first_activity as (
    select
        lead_id,
        min(activity_at) as first_activity_at
    from completed_activities
    where lead_id is not null
    group by lead_id
),

-- an account may have several billing customers: one row per paying CRM account
paying_accounts as (
    select distinct crm_account_id
    from paying_customers
    where crm_account_id is not null
),

joined as (
    select
        leads.*,
        first_activity.first_activity_at,
        paying_accounts.crm_account_id is not null as became_customer
    from leads
    left join first_activity
        on leads.lead_id = first_activity.lead_id
    left join paying_accounts
        on leads.converted_account_id = paying_accounts.crm_account_id
)

select
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(created_at as timestamp) as created_at,
    cast({{ dbt.date_trunc('month', 'created_at') }} as date) as created_month,
    cast(is_converted as boolean) as is_converted,
    cast(converted_at as timestamp) as converted_at,
    cast(converted_account_id as {{ dbt.type_string() }}) as converted_account_id,
    cast(converted_opportunity_id as {{ dbt.type_string() }}) as converted_opportunity_id,
    cast(became_customer as boolean) as became_customer,
    cast(first_activity_at as timestamp) as first_activity_at,
    -- whole seconds / 3600, rounded to 2 decimals; NULL without a completed activity
    {{ exact_ratio(dbt.datediff('created_at', 'first_activity_at', 'second'), '3600', 2) }} as response_time_hours,
    {{ batch_marker() }} as _batch_at
from joined
