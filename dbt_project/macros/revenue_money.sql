{#- Exact money division, the same on every engine.
    DuckDB divides decimals in floating point, so round(amount / n, 2) can land on the wrong
    side of a half cent (1200.06 / 12 = 100.005 -> 100.00 on DuckDB, 100.01 on PostgreSQL).
    revenue_divide_to_cents works on integer cents instead: round half away from zero, like
    PostgreSQL's round(numeric). Returns decimal(18,2); NULL when the divisor is NULL or 0. -#}
{% macro revenue_divide_to_cents(amount_expr, divisor_expr) -%}
    case
        when ({{ divisor_expr }}) is null or ({{ divisor_expr }}) = 0 then null
        else cast(
            cast(
                case when ({{ amount_expr }}) < 0 then -1 else 1 end
                * {{ revenue_integer_divide(
                    '2 * abs(cast(cast(' ~ amount_expr ~ ' as decimal(18, 2)) * 100 as bigint)) + abs(cast(' ~ divisor_expr ~ ' as bigint))',
                    '2 * abs(cast(' ~ divisor_expr ~ ' as bigint))') }}
                * case when ({{ divisor_expr }}) < 0 then -1 else 1 end
            as decimal(18, 0)) * 0.01
        as decimal(18, 2))
    end
{%- endmacro %}

{#- Integer quotient of two non-negative bigints. -#}
{% macro revenue_integer_divide(numerator, denominator) %}{{ return(adapter.dispatch('revenue_integer_divide')(numerator, denominator)) }}{% endmacro %}

{% macro default__revenue_integer_divide(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as bigint)
{%- endmacro %}

{% macro duckdb__revenue_integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro postgres__revenue_integer_divide(numerator, denominator) -%}
    (({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro spark__revenue_integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{#- The acquisition channels of kpi_acquisition_monthly: the lead_source values of the landing
    contract (crm.leads.lead_source in models/staging/_sources.yml) plus 'unknown'. Written out here
    because the parsed graph is not readable in unit tests; tests/revenue/assert_acquisition_all_row_totals
    fails if a spend or customer channel is ever missing from this list. -#}
{% macro revenue_acquisition_channels() %}
    {{ return(['paid_search', 'paid_social', 'organic_search', 'email', 'referral', 'events', 'outbound', 'unknown']) }}
{% endmacro %}
