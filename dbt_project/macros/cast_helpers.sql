{#- Lenient casts used by the base_ models: they return NULL instead of failing, so a bad
    value becomes a quarantine row (rule invalid_*) rather than a failed build.
    Engine-specific SQL lives here behind adapter.dispatch. -#}

{% macro create_cast_helpers() %}
    {{ return(adapter.dispatch('create_cast_helpers')()) }}
{% endmacro %}

{% macro default__create_cast_helpers() %}select 1{% endmacro %}

{% macro postgres__create_cast_helpers() %}
    {#- PostgreSQL 15 has no try_cast / pg_input_is_valid: small PL/pgSQL wrappers instead.
        The leading-digits guard stops 'now', 'today', 'infinity' from reading the clock. -#}
    create schema if not exists {{ target.schema }};
    create or replace function {{ target.schema }}.wh_try_timestamptz(v text) returns timestamptz
    language plpgsql immutable as $fn$
    begin
        if v is null or v !~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' then return null; end if;
        return v::timestamptz;
    exception when others then return null;
    end $fn$;
    create or replace function {{ target.schema }}.wh_try_date(v text) returns date
    language plpgsql immutable as $fn$
    begin
        if v is null or v !~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$' then return null; end if;
        return v::date;
    exception when others then return null;
    end $fn$
{% endmacro %}

{% macro wh_try_timestamp_utc(expr) %}{{ return(adapter.dispatch('wh_try_timestamp_utc')(expr)) }}{% endmacro %}
{% macro default__wh_try_timestamp_utc(expr) -%}
    {#- the same leading-date guard as on PostgreSQL: 'epoch' and 'infinity' are no timestamps -#}
    case when regexp_matches({{ expr }}, '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}')
         then timezone('UTC', try_cast({{ expr }} as timestamptz)) end
{%- endmacro %}
{% macro postgres__wh_try_timestamp_utc(expr) -%}
    ({{ target.schema }}.wh_try_timestamptz({{ expr }}) at time zone 'UTC')
{%- endmacro %}

{% macro wh_try_date(expr) %}{{ return(adapter.dispatch('wh_try_date')(expr)) }}{% endmacro %}
{% macro default__wh_try_date(expr) -%}
    case when regexp_full_match({{ expr }}, '[0-9]{4}-[0-9]{2}-[0-9]{2}') then try_cast({{ expr }} as date) end
{%- endmacro %}
{% macro postgres__wh_try_date(expr) -%}
    {{ target.schema }}.wh_try_date({{ expr }})
{%- endmacro %}

{% macro wh_matches(expr, pattern) %}{{ return(adapter.dispatch('wh_matches')(expr, pattern)) }}{% endmacro %}
{% macro default__wh_matches(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro postgres__wh_matches(expr, pattern) -%}
    ({{ expr }} ~ '^{{ pattern }}$')
{%- endmacro %}

{#- At most 17 - scale integer digits: with the decimals rounded to `scale`, the value still fits
    decimal(18, scale); a larger number is quarantined (invalid_number), it cannot fail the cast. -#}
{% macro wh_try_decimal(expr, scale=2) -%}
    case when {{ wh_matches(expr, '-?[0-9]{1,' ~ (17 - scale) ~ '}([.][0-9]+)?') }}
         then cast({{ expr }} as decimal(18, {{ scale }})) end
{%- endmacro %}

{% macro wh_try_bigint(expr) -%}
    case when {{ wh_matches(expr, '-?[0-9]{1,17}') }} then cast({{ expr }} as bigint) end
{%- endmacro %}

{% macro wh_epoch_to_timestamp(expr) %}{{ return(adapter.dispatch('wh_epoch_to_timestamp')(expr)) }}{% endmacro %}
{% macro default__wh_epoch_to_timestamp(expr) -%}
    make_timestamp(cast({{ expr }} as bigint) * 1000000)
{%- endmacro %}
{% macro postgres__wh_epoch_to_timestamp(expr) -%}
    (to_timestamp(cast({{ expr }} as bigint)) at time zone 'UTC')
{%- endmacro %}

{#- 11 digits: about year 1200 BC to 5100 AD, inside every engine's timestamp range -#}
{% macro wh_try_epoch(expr) -%}
    case when {{ wh_matches(expr, '-?[0-9]{1,11}') }} then {{ wh_epoch_to_timestamp(expr) }} end
{%- endmacro %}

{% macro wh_try_boolean(expr) -%}
    case when lower({{ expr }}) in ('true', 't', '1', 'yes') then true
         when lower({{ expr }}) in ('false', 'f', '0', 'no') then false end
{%- endmacro %}

{#- Money in a currency's minor unit -> decimal major units (exact: multiply, never divide). -#}
{% macro minor_to_major(amount_minor, currency) -%}
    cast(cast({{ amount_minor }} as decimal(20, 0))
         * case when {{ currency }} in ('BIF','CLP','DJF','GNF','JPY','KMF','KRW','MGA','PYG','RWF','UGX','VND','VUV','XAF','XOF','XPF')
                then 1 else 0.01 end
         as decimal(18, 2))
{%- endmacro %}

{#- Salted hash of a PII value, so it can still be a join key without being readable. -#}
{% macro pii_hash(expr) -%}
    {{ dbt.hash("'" ~ var('pii_salt') ~ "' || lower(" ~ wh_trim(expr) ~ ")") }}
{%- endmacro %}

{% macro wh_row_json(pairs) %}{{ return(adapter.dispatch('wh_row_json')(pairs)) }}{% endmacro %}
{% macro default__wh_row_json(pairs) -%}
    cast(json_object({% for k, v in pairs %}'{{ k }}', {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}) as varchar)
{%- endmacro %}
{% macro postgres__wh_row_json(pairs) -%}
    cast(json_build_object({% for k, v in pairs %}'{{ k }}', {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}) as text)
{%- endmacro %}
