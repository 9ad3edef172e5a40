-- Sales records with a foreign key pointing to nothing: the parent is not staged (never landed,
-- quarantined or soft-deleted). raw_sources.md (bad input): such rows are kept in staging, flagged,
-- counted by a warn-level check (tests/sales/warn_orphan_sales_records.sql) and left out of every
-- KPI until the parent lands. One row per failing (record, foreign key); the sales facts, quotas,
-- CSAT and stage history anti-join it. Parents are checked in staging only (no cascade): a lead
-- pointing at an opportunity that is itself an orphan is not an orphan.
-- A full rebuild every run: it is cheap (anti-joins on keys), and an incremental version measured
-- slower at 100,000 customers, as finding the changed records costs the same scans as checking all.
-- The foreign keys are listed once, in macro sales_foreign_keys.
with

users as (
    select user_id from {{ ref('stg_crm__users') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

contacts as (
    select contact_id from {{ ref('stg_crm__contacts') }}
),

leads as (
    select * from {{ ref('stg_crm__leads') }}
),

opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

opportunity_history as (
    select * from {{ ref('stg_crm__opportunity_history') }}
),

activities as (
    select * from {{ ref('stg_crm__activities') }}
),

quotas as (
    select * from {{ ref('stg_crm__quotas') }}
),

csat_responses as (
    select * from {{ ref('stg_crm__csat_responses') }}
),

orphans as (
    {%- for record_table, record_key, base_key, foreign_key, parent_table, parent_key in sales_foreign_keys() %}
    select
        '{{ record_table }}' as table_name,
        cast({{ record_table }}.{{ record_key }} as {{ dbt.type_string() }}) as record_id,
        '{{ foreign_key }}' as foreign_key,
        cast({{ record_table }}.{{ foreign_key }} as {{ dbt.type_string() }}) as missing_parent_id
    from {{ record_table }}
    left join {{ parent_table }} as parent
        on {{ record_table }}.{{ foreign_key }} = parent.{{ parent_key }}
    where {{ record_table }}.{{ foreign_key }} is not null
        and parent.{{ parent_key }} is null
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
)

select * from orphans
