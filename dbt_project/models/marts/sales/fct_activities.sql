-- One row per completed activity (kpis.md: only completed activities count in KPIs).
-- Incremental: a nightly run recomputes the activities whose row or parents changed
-- (macros/incremental_facts.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_id',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows('activity_id', fct_activities_changed_keys()) }}"
) }}
with

-- an activity whose owner, lead, contact, opportunity or account is not staged waits for it
activities as (
    select * from ({{ sales_records_without_orphans('activities', 'activity_id') }}) as activities
    where status = 'completed'
    {%- if is_incremental() %}
        and activity_id in ({{ changed_keys() }})
    {%- endif %}
)

select
    cast(activity_id as {{ dbt.type_string() }}) as activity_id,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(activity_type as {{ dbt.type_string() }}) as type,
    cast(activity_at as timestamp) as activity_at,
    cast(activity_at as date) as activity_date,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(contact_id as {{ dbt.type_string() }}) as contact_id,
    cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    {{ batch_marker() }} as _batch_at
from activities
