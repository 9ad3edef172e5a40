{#- exact_ratio(numerator, denominator, scale, multiplier=1):
    numerator x multiplier / denominator as decimal(18, scale), rounded half away from zero and
    identical on every engine; NULL when the denominator is NULL or 0 (like safe_divide).
    Why: DuckDB divides DECIMALs in DOUBLE, so an exact tie lands on either side of the half unit
    (80585.90 / 4 = 20146.475 gives 20146.47 on DuckDB, 20146.48 on PostgreSQL). Both operands are
    taken as decimal(18, 2) (counts and cents, exactly), scaled to integers, and divided as integers
    (integer_divide, the project's engine-dispatched integer division):
        round(n / d, s) = sign x floor((2 |n'| + |d'|) / (2 |d'|)) / 10^s,  n' = n x m x 100 x 10^s, d' = d x 100
    Integers are 128-bit (wide_integer_type), so |numerator x multiplier| may reach ~1e28 / 10^scale.
    Use multiplier=100 for a _pct. -#}
{% macro exact_ratio(numerator, denominator, scale, multiplier=1) -%}
    {%- set wide = wide_integer_type() -%}
    {%- set numerator_units = 'abs(cast(cast(' ~ numerator ~ ' as decimal(38, 2)) * ' ~ (100 * multiplier * (10 ** scale)) ~ ' as ' ~ wide ~ '))' -%}
    {%- set denominator_units = 'abs(cast(cast(' ~ denominator ~ ' as decimal(38, 2)) * 100 as ' ~ wide ~ '))' -%}
    {#- the cast sits outside the case so PostgreSQL keeps the numeric(18, scale) typmod -#}
    cast(
        case
            when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
            else cast(
                case when ({{ numerator }}) < 0 then -1 else 1 end
                * case when ({{ denominator }}) < 0 then -1 else 1 end
                * {{ integer_divide('2 * ' ~ numerator_units ~ ' + ' ~ denominator_units, '2 * ' ~ denominator_units) }}
            as decimal(38, 0)) * {{ '1' if scale == 0 else '0.' ~ ('0' * (scale - 1)) ~ '1' }}
        end
    as decimal(18, {{ scale }}))
{%- endmacro %}

{#- A 128-bit integer type: money x 10^(2 + scale) outgrows bigint at warehouse scale. -#}
{% macro wide_integer_type() %}{{ return(adapter.dispatch('wide_integer_type')()) }}{% endmacro %}
{% macro default__wide_integer_type() %}{{ return('decimal(38, 0)') }}{% endmacro %}
{% macro duckdb__wide_integer_type() %}{{ return('hugeint') }}{% endmacro %}

{#- Integer quotient of two non-negative integers (wide_integer_type). -#}
{% macro integer_divide(numerator, denominator) %}{{ return(adapter.dispatch('integer_divide')(numerator, denominator)) }}{% endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as bigint)
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro postgres__integer_divide(numerator, denominator) -%}
    div(({{ numerator }}), ({{ denominator }}))
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}
