{#- Sales definitions written once and reused by models/intermediate/sales and models/marts/sales:
    the funnel (below), booking types (sales_booking_types) and orphan ids (sales_orphan_ids).

    The sales funnel (kpis.md, kpi_pipeline_stages):
    prospecting -> qualification -> discovery -> proposal -> negotiation -> closed_won.
    closed_lost is an outcome, not a funnel stage: it has no order, so it never counts as
    "reached" and a lost opportunity keeps the furthest open stage of its history. -#}

{% macro sales_funnel_stages() %}
    {{ return([
        {'stage_name': 'prospecting', 'stage_order': 1, 'is_open_stage': true},
        {'stage_name': 'qualification', 'stage_order': 2, 'is_open_stage': true},
        {'stage_name': 'discovery', 'stage_order': 3, 'is_open_stage': true},
        {'stage_name': 'proposal', 'stage_order': 4, 'is_open_stage': true},
        {'stage_name': 'negotiation', 'stage_order': 5, 'is_open_stage': true},
        {'stage_name': 'closed_won', 'stage_order': 6, 'is_open_stage': false},
    ]) }}
{% endmacro %}

{#- The five open stages (the funnel without closed_won), for kpi_pipeline_daily. -#}
{% macro sales_open_stages() %}
    {%- set open_stages = [] -%}
    {%- for stage in sales_funnel_stages() if stage.is_open_stage -%}
        {%- do open_stages.append(stage) -%}
    {%- endfor -%}
    {{ return(open_stages) }}
{% endmacro %}

{#- Funnel position (1-6) of a stage name; NULL for closed_lost (an outcome) and anything else. -#}
{% macro sales_stage_order(stage_expr) -%}
    case {{ stage_expr }}
        {%- for stage in sales_funnel_stages() %}
        when '{{ stage.stage_name }}' then {{ stage.stage_order }}
        {%- endfor %}
    end
{%- endmacro %}

{#- Stage name of a funnel position (inverse of sales_stage_order). -#}
{% macro sales_stage_name(order_expr) -%}
    case {{ order_expr }}
        {%- for stage in sales_funnel_stages() %}
        when {{ stage.stage_order }} then '{{ stage.stage_name }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- The funnel stages as rows (stage_name, stage_order, is_open_stage), to use as a CTE body;
    open_only=true keeps the five open stages. Literal rows: no model to mock in unit tests. -#}
{% macro sales_funnel_stage_rows(open_only=false) -%}
    {%- set stages = sales_open_stages() if open_only else sales_funnel_stages() -%}
    {%- for stage in stages %}
    select
        cast('{{ stage.stage_name }}' as {{ dbt.type_string() }}) as stage_name,
        cast({{ stage.stage_order }} as integer) as stage_order,
        {{ 'true' if stage.is_open_stage else 'false' }} as is_open_stage
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- True when the stage is one of the five open funnel stages. -#}
{% macro sales_is_open_stage(stage_expr) -%}
    coalesce({{ stage_expr }} in (
        {%- for stage in sales_open_stages() %}'{{ stage.stage_name }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    ), false)
{%- endmacro %}

{#- The foreign keys the orphan check follows (raw_sources.md, bad input: a sales record whose
    parent is not staged waits for it), as (record table, its key in staging, that key's column in
    the base model, foreign key, parent table, parent key in staging). Parents are keyed by `id` in
    their base model. Used by int_sales__orphans and by the incremental facts' changed keys. -#}
{% macro sales_foreign_keys() %}
    {{ return([
        ('opportunities', 'opportunity_id', 'id', 'account_id', 'accounts', 'account_id'),
        ('opportunities', 'opportunity_id', 'id', 'owner_id', 'users', 'user_id'),
        ('opportunity_history', 'opportunity_history_id', 'id', 'opportunity_id', 'opportunities', 'opportunity_id'),
        ('leads', 'lead_id', 'id', 'owner_id', 'users', 'user_id'),
        ('leads', 'lead_id', 'id', 'converted_account_id', 'accounts', 'account_id'),
        ('leads', 'lead_id', 'id', 'converted_opportunity_id', 'opportunities', 'opportunity_id'),
        ('activities', 'activity_id', 'id', 'owner_id', 'users', 'user_id'),
        ('activities', 'activity_id', 'id', 'lead_id', 'leads', 'lead_id'),
        ('activities', 'activity_id', 'id', 'contact_id', 'contacts', 'contact_id'),
        ('activities', 'activity_id', 'id', 'opportunity_id', 'opportunities', 'opportunity_id'),
        ('activities', 'activity_id', 'id', 'account_id', 'accounts', 'account_id'),
        ('quotas', 'owner_id', 'owner_id', 'owner_id', 'users', 'user_id'),
        ('csat_responses', 'csat_response_id', 'id', 'account_id', 'accounts', 'account_id'),
    ]) }}
{% endmacro %}

{#- The CRM tables whose records the orphan check follows, in sales_foreign_keys order. -#}
{% macro sales_record_tables() %}
    {%- set tables = [] -%}
    {%- for fk in sales_foreign_keys() if fk[0] not in tables %}{% do tables.append(fk[0]) %}{% endfor -%}
    {{ return(tables) }}
{% endmacro %}

{#- Ids of the records of a sales table whose foreign key points to nothing (int_sales__orphans),
    as a CTE body to anti-join: they stay out of every KPI until their parent lands. -#}
{% macro sales_orphan_ids(table_name) -%}
    select distinct record_id
    from {{ ref('int_sales__orphans') }}
    where table_name = '{{ table_name }}'
{%- endmacro %}

{#- The staged rows of a CRM table that are not orphans (raw_sources.md: an orphan waits for its
    parent and counts in no KPI). key_column is the column matched against int_sales__orphans
    .record_id (for quotas: owner_id, as all quotas of a missing rep wait). -#}
{% macro sales_records_without_orphans(table_name, key_column) -%}
    select staged.*
    from {{ ref('stg_crm__' ~ table_name) }} as staged
    left join ({{ sales_orphan_ids(table_name) }}) as orphans
        on staged.{{ key_column }} = orphans.record_id
    where orphans.record_id is null
{%- endmacro %}

{#- Opportunity types that count as bookings (kpis.md, bookings_usd and average_deal_size_usd).
    Renewals count in deals_won and win_rate only. -#}
{% macro sales_booking_types() -%}
    ('new_business', 'expansion')
{%- endmacro %}
