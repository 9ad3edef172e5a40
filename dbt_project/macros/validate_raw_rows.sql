{#-
    validate_raw_rows(source_name, table_name, fx_rates=none)

    Types every column of a raw (all-text) table according to the contract in
    models/staging/_sources.yml and labels each landed row with exactly one status:
      quarantined  - failed a rule; `_dq_rule` names the first rule that failed
      superseded   - a valid row with a newer valid version of the same key
      soft_deleted - the latest valid version of its key, with _is_deleted = true
      current      - the latest valid version, not deleted: what stg_ models expose
    so landed = current + superseded + soft_deleted + quarantined holds by construction
    and is checked by audit.reconciliation.
    Rules, in order: missing_primary_key, invalid_timestamp:_loaded_at, missing_value:<col>,
    invalid_<kind>:<col>, invalid_enum:<col>, negative_amount:<col>, out_of_range:<col> (meta positive:
    zero; meta range: outside [min, max]),
    future_timestamp:<col>, missing_fx_rate, duplicate_key (a key repeated in one file with the
    same _loaded_at: the first in file order wins). Quarantine comes before versioning, so a bad
    newest version never supersedes the latest valid one.
    `_batch_at` marks the run that (re)wrote the row: an incremental run rewrites every version of
    every key it touches, so "rows with _batch_at after my watermark" are exactly the keys that may
    have changed since an incremental fact last ran (macros/incremental_facts.sql).
-#}

{% macro raw_contract(source_name, table_name) %}
    {#- (table_meta, [(column, meta)]) from the parsed graph; empty while parsing. -#}
    {%- set table_meta = {} -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.source_name == source_name and node.name == table_name -%}
                {%- do table_meta.update(node.config.meta if node.config and node.config.meta else node.meta) -%}
                {%- for col in node.columns.values() -%}
                    {%- set meta = col.config.meta if (col.config and col.config.meta) else col.meta -%}
                    {%- do columns.append((col.name, meta)) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if columns | length == 0 -%}
            {{ exceptions.raise_compiler_error("No contract for source " ~ source_name ~ "." ~ table_name ~ " in _sources.yml") }}
        {%- endif -%}
    {%- endif -%}
    {{ return((table_meta, columns)) }}
{% endmacro %}

{% macro typed_value(raw, meta) -%}
    {%- set kind = meta.get('kind', 'string') -%}
    {%- if kind in ('string', 'enum') -%} {{ raw }}
    {%- elif kind == 'currency' -%} upper({{ raw }})
    {%- elif kind == 'timestamp' -%} {{ wh_try_timestamp_utc(raw) }}
    {%- elif kind == 'date' -%} {{ wh_try_date(raw) }}
    {%- elif kind == 'epoch' -%} {{ wh_try_epoch(raw) }}
    {%- elif kind == 'decimal' -%} {{ wh_try_decimal(raw, meta.get('scale', 2)) }}
    {%- elif kind in ('minor_units', 'integer') -%} {{ wh_try_bigint(raw) }}
    {%- elif kind == 'boolean' -%} {{ wh_try_boolean(raw) }}
    {%- else -%} {{ exceptions.raise_compiler_error("Unknown column kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{% macro invalid_rule_name(kind) -%}
    {%- if kind in ('timestamp', 'date', 'epoch') -%}invalid_timestamp
    {%- elif kind in ('decimal', 'minor_units', 'integer') -%}invalid_number
    {%- elif kind == 'boolean' -%}invalid_boolean
    {%- else -%}invalid_value{%- endif -%}
{%- endmacro %}

{% macro validate_raw_rows(source_name, table_name, fx_rates=none) %}
{%- set contract = raw_contract(source_name, table_name) -%}
{%- set table_meta = contract[0] -%}
{%- set columns = contract[1] -%}
{%- set primary_key = table_meta.get('primary_key', ['id']) -%}
{%- set fx = table_meta.get('fx') -%}
{%- set src = source(source_name, table_name) -%}
{%- if not execute -%}
select * from {{ src }}{% if fx_rates is not none %} cross join {{ fx_rates }}{% endif %}
{%- else -%}
{%- set key_expr = raw_key_expr(primary_key) %}
with
{% if is_incremental() %}
-- Incremental run: validate the rows of files not validated yet, plus every landed version of the
-- keys they touch (and of keys still waiting for an FX rate), so that versioning and the
-- duplicate-key rule always see whole keys. delete+insert on (_source_file, _row_number) then
-- replaces exactly those rows: the result equals a full rebuild.
new_files as (
    select distinct _source_file
    from {{ src }}
    where _source_file not in (select distinct _source_file from {{ this }})
),

touched_keys as (
    select {{ key_expr }} as _primary_key_value
    from {{ src }}
    where _source_file in (select _source_file from new_files)
    union
    select _primary_key_value
    from {{ this }}
    where _dq_rule = 'missing_fx_rate'
),
{% endif %}
raw_rows as (
    select * from {{ src }}
    {%- if is_incremental() %}
    where _source_file in (select _source_file from new_files)
    union all
    -- the earlier versions of the touched keys: every landed row has exactly one row here, whose
    -- _primary_key_value is key_expr of its raw text, so (file, row) finds them without trimming
    -- every raw key of the table again
    select landed.*
    from {{ src }} as landed
    where exists (
        select 1
        from {{ this }} as earlier_version
        where earlier_version._source_file = landed._source_file
            and earlier_version._row_number = landed._row_number
            and earlier_version._primary_key_value in (select _primary_key_value from touched_keys)
    )
    {%- endif %}
),

{% if fx is not none %}
first_fx_rate as (
    -- the earliest rate per currency: a conversion date before it has no usable rate
    select currency, min(rate_date) as first_rate_date
    from {{ fx_rates }}
    group by currency
),
{% endif %}

trimmed as (
    select
        _source_file,
        _row_number,
        nullif({{ wh_trim('_loaded_at') }}, '') as _loaded_at_raw,
        nullif({{ wh_trim('_is_deleted') }}, '') as _is_deleted_raw
        {%- for name, meta in columns %},
        nullif({{ wh_trim(adapter.quote(name)) }}, '') as {{ adapter.quote(name ~ '__raw') }}
        {%- endfor %}
    from raw_rows
),

typed as (
    select
        trimmed.*,
        {{ wh_try_timestamp_utc('_loaded_at_raw') }} as _loaded_at,
        coalesce({{ wh_try_boolean('_is_deleted_raw') }}, false) as _is_deleted
        {%- for name, meta in columns %},
        {{ typed_value(adapter.quote(name ~ '__raw'), meta) }} as {{ adapter.quote(name) }}
        {%- endfor %}
    from trimmed
),

{% if fx is not none %}
typed_with_fx as (
    select typed.*, first_fx_rate.first_rate_date as _first_fx_rate_date
    from typed
    left join first_fx_rate
        on typed.{{ fx.currency }} = first_fx_rate.currency
),
{% endif %}

rule_checked as (
    select
        *,
        case
            when {% for k in primary_key %}{{ adapter.quote(k ~ '__raw') }} is null{% if not loop.last %} or {% endif %}{% endfor %}
                then 'missing_primary_key'
            when _loaded_at_raw is null or _loaded_at is null
                then 'invalid_timestamp:_loaded_at'
            when _is_deleted_raw is not null and {{ wh_try_boolean('_is_deleted_raw') }} is null
                then 'invalid_boolean:_is_deleted'
            {%- for name, meta in columns %}
            {%- set raw = adapter.quote(name ~ '__raw') %}
            {%- set typed = adapter.quote(name) %}
            {%- set kind = meta.get('kind', 'string') %}
            {%- if not meta.get('nullable') and kind != 'string' and name not in primary_key %}
            when {{ raw }} is null then 'missing_value:{{ name }}'
            {%- endif %}
            {%- if kind not in ('string', 'enum', 'currency') %}
            when {{ raw }} is not null and {{ typed }} is null then '{{ invalid_rule_name(kind) }}:{{ name }}'
            {%- endif %}
            {%- if kind == 'enum' %}
            when {{ raw }} is not null and {{ raw }} not in ({% for v in meta['values'] %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
                then 'invalid_enum:{{ name }}'
            {%- endif %}
            {%- if kind == 'currency' %}
            when {{ raw }} is not null and not {{ wh_matches(raw, '[A-Za-z]{3}') }} then 'invalid_enum:{{ name }}'
            {%- endif %}
            {%- endfor %}
            {%- for name, meta in columns if meta.get('non_negative') %}
            when {{ adapter.quote(name) }} < 0
                {%- if meta.get('negative_allowed_when') %} and not coalesce({{ meta.get('negative_allowed_when') }}, false){% endif %}
                then 'negative_amount:{{ name }}'
            {%- endfor %}
            {%- for name, meta in columns if meta.get('positive') %}
            {#- after negative_amount: what is left to refuse here is zero #}
            when {{ adapter.quote(name) }} <= 0 then 'out_of_range:{{ name }}'
            {%- endfor %}
            {%- for name, meta in columns if meta.get('range') %}
            when {{ adapter.quote(name) }} < {{ meta['range'][0] }} or {{ adapter.quote(name) }} > {{ meta['range'][1] }}
                then 'out_of_range:{{ name }}'
            {%- endfor %}
            {%- for name, meta in columns if meta.get('event') %}
            when cast({{ adapter.quote(name) }} as timestamp) > {{ dbt.dateadd('day', 1, '_loaded_at') }}
                {%- if meta.get('event_when') %} and {{ meta.get('event_when') }}{% endif %}
                then 'future_timestamp:{{ name }}'
            {%- endfor %}
            {%- if fx is not none %}
            when {{ fx.currency }} <> '{{ var("reporting_currency") }}'
                 and (_first_fx_rate_date is null or {{ fx.date }} < _first_fx_rate_date)
                then 'missing_fx_rate'
            {%- endif %}
        end as _row_rule
    from {% if fx is not none %}typed_with_fx{% else %}typed{% endif %}
),

duplicate_checked as (
    select
        *,
        -- among the rows that passed, a key repeated in one file with the same _loaded_at
        case when _row_rule is null then row_number() over (
            partition by {% for k in primary_key %}{{ adapter.quote(k) }}, {% endfor %}_source_file, _loaded_at, (_row_rule is null)
            order by _row_number
        ) end as _rank_in_file
    from rule_checked
),

ruled as (
    select
        *,
        case when _row_rule is null and _rank_in_file > 1 then 'duplicate_key' else _row_rule end as _dq_rule
    from duplicate_checked
),

versioned as (
    select
        *,
        -- latest valid version first: later _loaded_at, then the later file (name order), then row
        case when _dq_rule is null then row_number() over (
            partition by {% for k in primary_key %}{{ adapter.quote(k) }}, {% endfor %}(_dq_rule is null)
            order by _loaded_at desc, _source_file desc, _row_number desc
        ) end as _version_rank
    from ruled
)

select
    {%- for name, meta in columns %}
    {{ adapter.quote(name) }},
    {%- endfor %}
    _loaded_at,
    _is_deleted,
    _source_file,
    _row_number,
    case
        when _dq_rule is not null then 'quarantined'
        when _version_rank > 1 then 'superseded'
        when _is_deleted then 'soft_deleted'
        else 'current'
    end as _row_status,
    _dq_rule,
    {{ raw_key_expr(primary_key, '__raw') }} as _primary_key_value,
    {%- set json_pairs = [('_loaded_at', '_loaded_at_raw'), ('_is_deleted', '_is_deleted_raw')] %}
    {%- for name, meta in columns %}{% do json_pairs.append((name, adapter.quote(name ~ '__raw'))) %}{% endfor %}
    case when _dq_rule is not null then {{ wh_row_json(json_pairs) }} end as _raw_json,
    {{ batch_marker() }} as _batch_at
from versioned
{%- endif %}
{% endmacro %}

{#- The primary key of a raw row as one string (parts joined by '|'), null when every part is blank.
    Computed on the raw text columns, so it identifies a key before and after typing. -#}
{% macro raw_key_expr(primary_key, suffix='') -%}
    {%- set parts = [] -%}
    {%- for k in primary_key %}{% do parts.append("coalesce(nullif(" ~ wh_trim(adapter.quote(k ~ suffix)) ~ ", ''), '')") %}{% endfor -%}
    nullif({{ parts | join(" || '|' || ") }}, '{{ "|" * (primary_key | length - 1) }}')
{%- endmacro %}
