{#- Incremental facts (issue 5): a nightly run recomputes only the rows whose inputs changed.

    Every base model row carries `_batch_at`, the start of the dbt run that (re)wrote it; an
    incremental base run rewrites every landed version of every key it touches (new files, late and
    updated rows, keys waiting for an FX rate). An incremental fact keeps the same marker on its own
    rows, so its newest `_batch_at` (its watermark) says which base rows it has already taken in.
    Each run it:
      1. finds the changed keys: its own base keys written after the watermark, plus the records
         whose parents (the rows they join or are checked against) were written after it;
      2. keeps them in a temporary table and deletes its rows of those keys (pre_hook
         delete_changed_rows: a record that was deleted, quarantined or became an orphan leaves);
      3. computes those keys again from staging and inserts them (delete+insert on the key;
         append for int_sales__orphans, whose key is two columns and whose rows step 2 removed).
    The watermark is the fact's own, so a copy that is one run behind (the PostgreSQL build schema
    marts__next) catches up on every run it missed. `make run FULL_REFRESH=1` rebuilds from scratch.
    tests/test_incremental.py proves nightly == from scratch on both engines. -#}

{#- The marker of this dbt run: the same for every row a run writes. -#}
{% macro batch_marker() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The newest _batch_at of this incremental model: base rows written after it are news. -#}
{% macro fact_watermark() -%}
    (select coalesce(max(_batch_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{#- The keys of a base model written after the watermark (every version of every touched key). -#}
{% macro base_keys_changed(base_model, key_column='id') -%}
    select {{ key_column }} from {{ ref(base_model) }} where _batch_at > {{ fact_watermark() }}
{%- endmacro %}

{#- The earliest changed rate date per currency: conversions on or after it may use another rate. -#}
{% macro fx_rates_changed() -%}
    select currency, min(rate_date) as first_changed_rate_date
    from {{ ref('base_finance__fx_rates') }}
    where _batch_at > {{ fact_watermark() }}
    group by currency
{%- endmacro %}

{#- pre_hook: keep the changed keys in a temporary table, then delete the model's rows of those keys
    (key_columns: one column, or a list matching the columns of changed_keys_sql). The model body
    reads the same table (changed_keys()), so the keys are computed once a run. -#}
{% macro delete_changed_rows(key_columns, changed_keys_sql) -%}
    {%- if is_incremental() -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    drop table if exists {{ changed_keys_table() }};
    create temporary table {{ changed_keys_table() }} as {{ changed_keys_sql }};
    delete from {{ this }} where ({{ keys | join(', ') }}) in (select * from {{ changed_keys_table() }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The temporary table of this model's changed keys, written by delete_changed_rows. -#}
{% macro changed_keys_table() -%}
    {{ this.identifier }}__changed_keys
{%- endmacro %}

{% macro changed_keys() -%}
    select * from {{ changed_keys_table() }}
{%- endmacro %}

{#- The records of a sales table whose orphan status may have changed: the record itself, or a
    parent its orphan check looks at (sales_foreign_keys). Ids as in staging. -#}
{% macro sales_records_changed(table_name) -%}
    {%- set fks = [] -%}
    {%- for fk in sales_foreign_keys() if fk[0] == table_name %}{% do fks.append(fk) %}{% endfor -%}
    {{ base_keys_changed('base_crm__' ~ table_name, fks[0][2]) }}
    union
    select {{ fks[0][1] }}
    from {{ ref('stg_crm__' ~ table_name) }}
    where {% for fk in fks -%}
        {{ fk[3] }} in ({{ base_keys_changed('base_crm__' ~ fk[4]) }})
        {%- if not loop.last %}
        or {% endif %}
    {%- endfor %}
{%- endmacro %}

{#- int_sales__orphans (key table_name, record_id): every record of a CRM table whose orphan status may
    have changed. -#}
{% macro sales_orphans_changed_keys() -%}
    {%- for table_name in sales_record_tables() %}
    {%- set base_keys = [] -%}
    {%- for fk in sales_foreign_keys() if fk[0] == table_name %}{% do base_keys.append(fk[2]) %}{% endfor %}
    select cast('{{ table_name }}' as {{ dbt.type_string() }}) as table_name,
        cast({{ base_keys[0] }} as {{ dbt.type_string() }}) as record_id
    from ({{ sales_records_changed(table_name) }}) as changed_{{ table_name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- fct_activities: every column is the activity's own; it is in the fact when completed and not an orphan. -#}
{% macro fct_activities_changed_keys() -%}
    {{ sales_records_changed('activities') }}
{%- endmacro %}

{#- int_invoice_lines: the line changed, or its invoice, its price, or the FX rate in force on its
    invoice date. -#}
{% macro int_invoice_lines_changed_keys() -%}
    {{ base_keys_changed('base_billing__invoice_line_items') }}
    union
    select line_items.invoice_line_id
    from {{ ref('stg_billing__invoice_line_items') }} as line_items
    left join {{ ref('stg_billing__invoices') }} as invoices
        on line_items.invoice_id = invoices.invoice_id
    left join ({{ fx_rates_changed() }}) as changed_fx
        on invoices.currency = changed_fx.currency
    where line_items.invoice_id in ({{ base_keys_changed('base_billing__invoices') }})
        or line_items.price_id in ({{ base_keys_changed('base_billing__prices') }})
        or cast(invoices.created_at as date) >= changed_fx.first_changed_rate_date
{%- endmacro %}

{#- int_sales__opportunity_stage_intervals (key opportunity_id: all intervals of an opportunity
    are recomputed together): the opportunity changed, one of its history rows (every version, so
    a row moved to another opportunity counts for both), its account or owner (orphan check), or
    the FX rate in force on its close_date. -#}
{% macro stage_intervals_changed_keys() -%}
    {{ sales_records_changed('opportunities') }}
    union
    {{ base_keys_changed('base_crm__opportunity_history', 'opportunity_id') }}
    union
    select opportunities.opportunity_id
    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join ({{ fx_rates_changed() }}) as changed_fx
        on opportunities.currency = changed_fx.currency
    where opportunities.close_date >= changed_fx.first_changed_rate_date
{%- endmacro %}

{#- fct_leads: the lead changed, one of its orphan-check parents, its converted account's paying
    status (a billing customer of that account, or one of that customer's invoices, changed), or
    one of its completed activities (every version of a changed activity, and activities whose
    own parents changed: first_activity_at reads non-orphan activities only). -#}
{% macro fct_leads_changed_keys() -%}
    {{ sales_records_changed('leads') }}
    union
    select lead_id
    from {{ ref('stg_crm__leads') }}
    where converted_account_id in (
            {{ base_keys_changed('base_billing__customers', 'crm_account_id') }}
            union
            select crm_account_id
            from {{ ref('stg_billing__customers') }}
            where customer_id in ({{ base_keys_changed('base_billing__invoices', 'customer_id') }})
        )
    union
    {{ base_keys_changed('base_crm__activities', 'lead_id') }}
    union
    select lead_id
    from {{ ref('stg_crm__activities') }}
    where activity_id in ({{ sales_records_changed('activities') }})
{%- endmacro %}
