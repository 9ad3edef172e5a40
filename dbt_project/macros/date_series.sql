{#- select ... date_day: one row (date) per day from start_expr to end_expr inclusive, where both
    expressions are columns of `from_relation` (a one-row CTE). Engine-specific series function. -#}
{% macro date_series(from_relation, start_expr, end_expr) %}{{ return(adapter.dispatch('date_series')(from_relation, start_expr, end_expr)) }}{% endmacro %}

{% macro default__date_series(from_relation, start_expr, end_expr) -%}
    select cast(series.generated_at as date) as date_day
    from {{ from_relation }}
    cross join generate_series(cast({{ start_expr }} as timestamp), cast({{ end_expr }} as timestamp), interval '1 day') as series(generated_at)
{%- endmacro %}

{% macro spark__date_series(from_relation, start_expr, end_expr) -%}
    select date_day
    from {{ from_relation }}
    lateral view explode(sequence(cast({{ start_expr }} as date), cast({{ end_expr }} as date), interval 1 day)) series as date_day
{%- endmacro %}
