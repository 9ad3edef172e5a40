-- Sales records with a foreign key pointing to nothing: the parent is not staged (never landed,
-- quarantined or soft-deleted). raw_sources.md (bad input): such rows are kept in staging, flagged,
-- counted by a warn-level check (tests/sales/warn_orphan_sales_records.sql) and left out of every
-- KPI until the parent lands. One row per failing (record, foreign key); the sales facts, quotas,
-- CSAT and stage history anti-join it. Parents are checked in staging only (no cascade): a lead
-- pointing at an opportunity that is itself an orphan is not an orphan.
-- The foreign keys are listed once, in macro sales_foreign_keys.
-- Incremental (macros/incremental_facts.sql): a nightly run checks again only the records whose row
-- or one of whose parents changed (key table_name, record_id), against every staged parent.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows(['table_name', 'record_id'], sales_orphans_changed_keys()) }}"
) }}
{%- set parents = [] %}
{%- for fk in sales_foreign_keys() if (fk[4], fk[5]) not in parents %}{% do parents.append((fk[4], fk[5])) %}{% endfor %}
with

{% for parent_table, parent_key in parents -%}
{{ parent_table }}_keys as (
    select {{ parent_key }} from {{ ref('stg_crm__' ~ parent_table) }}
),

{% endfor -%}

{% for record_table in sales_record_tables() -%}
{%- set record_keys = [] -%}
{%- for fk in sales_foreign_keys() if fk[0] == record_table %}{% do record_keys.append(fk[1]) %}{% endfor -%}
{%- set record_key = record_keys[0] -%}
{{ record_table }}_records as (
    select * from {{ ref('stg_crm__' ~ record_table) }}
    {%- if is_incremental() %}
    where {{ record_key }} in (select record_id from {{ changed_keys_table() }} where table_name = '{{ record_table }}')
    {%- endif %}
),

{% endfor -%}

orphans as (
    {%- for record_table, record_key, base_key, foreign_key, parent_table, parent_key in sales_foreign_keys() %}
    select
        '{{ record_table }}' as table_name,
        cast(records.{{ record_key }} as {{ dbt.type_string() }}) as record_id,
        '{{ foreign_key }}' as foreign_key,
        cast(records.{{ foreign_key }} as {{ dbt.type_string() }}) as missing_parent_id
    from {{ record_table }}_records as records
    left join {{ parent_table }}_keys as parent
        on records.{{ foreign_key }} = parent.{{ parent_key }}
    where records.{{ foreign_key }} is not null
        and parent.{{ parent_key }} is null
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
)

select
    cast(table_name as {{ dbt.type_string() }}) as table_name,
    record_id,
    cast(foreign_key as {{ dbt.type_string() }}) as foreign_key,
    missing_parent_id,
    {{ batch_marker() }} as _batch_at
from orphans
