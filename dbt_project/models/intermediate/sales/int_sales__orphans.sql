-- Sales records with a foreign key pointing to nothing: the parent is not staged (never landed,
-- quarantined or soft-deleted). raw_sources.md (bad input): such rows are kept in staging, flagged,
-- counted by a warn-level check (tests/sales/warn_orphan_sales_records.sql) and left out of every
-- KPI until the parent lands. One row per failing (record, foreign key); the sales facts, quotas,
-- CSAT and stage history anti-join it. Parents are checked in staging only (no cascade): a lead
-- pointing at an opportunity that is itself an orphan is not an orphan.
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

{#- (record table, its CTE, its key, foreign key column, parent CTE, parent key) -#}
{%- set foreign_keys = [
    ('opportunities', 'opportunities', 'opportunity_id', 'account_id', 'accounts', 'account_id'),
    ('opportunities', 'opportunities', 'opportunity_id', 'owner_id', 'users', 'user_id'),
    ('opportunity_history', 'opportunity_history', 'opportunity_history_id', 'opportunity_id', 'opportunities', 'opportunity_id'),
    ('leads', 'leads', 'lead_id', 'owner_id', 'users', 'user_id'),
    ('leads', 'leads', 'lead_id', 'converted_account_id', 'accounts', 'account_id'),
    ('leads', 'leads', 'lead_id', 'converted_opportunity_id', 'opportunities', 'opportunity_id'),
    ('activities', 'activities', 'activity_id', 'owner_id', 'users', 'user_id'),
    ('activities', 'activities', 'activity_id', 'lead_id', 'leads', 'lead_id'),
    ('activities', 'activities', 'activity_id', 'contact_id', 'contacts', 'contact_id'),
    ('activities', 'activities', 'activity_id', 'opportunity_id', 'opportunities', 'opportunity_id'),
    ('activities', 'activities', 'activity_id', 'account_id', 'accounts', 'account_id'),
    ('quotas', 'quotas', 'owner_id', 'owner_id', 'users', 'user_id'),
    ('csat_responses', 'csat_responses', 'csat_response_id', 'account_id', 'accounts', 'account_id'),
] %}

orphans as (
    {%- for record_table, record_cte, record_key, foreign_key, parent_cte, parent_key in foreign_keys %}
    select
        '{{ record_table }}' as table_name,
        cast({{ record_cte }}.{{ record_key }} as {{ dbt.type_string() }}) as record_id,
        '{{ foreign_key }}' as foreign_key,
        cast({{ record_cte }}.{{ foreign_key }} as {{ dbt.type_string() }}) as missing_parent_id
    from {{ record_cte }}
    left join {{ parent_cte }} as parent
        on {{ record_cte }}.{{ foreign_key }} = parent.{{ parent_key }}
    where {{ record_cte }}.{{ foreign_key }} is not null
        and parent.{{ parent_key }} is null
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
)

select * from orphans
