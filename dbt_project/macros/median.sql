{#- wh_median(expr): the median of expr as an aggregate (NULLs ignored), portable across engines.
    The result type differs by engine (double or decimal): cast it to the column's contract type. -#}
{% macro wh_median(expr) %}{{ return(adapter.dispatch('wh_median')(expr)) }}{% endmacro %}

{#- ANSI ordered-set aggregate: PostgreSQL, Snowflake, Redshift ... -#}
{% macro default__wh_median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{#- DuckDB's median keeps a DECIMAL input's scale and truncates the interpolated midpoint
    (median of 113.07 and 113.08 gives 113.07): widen the scale so the midpoint is exact. Numeric input. -#}
{% macro duckdb__wh_median(expr) -%}
    median(cast({{ expr }} as decimal(38, 6)))
{%- endmacro %}

{#- Spark: percentile() is exact and interpolates like percentile_cont. -#}
{% macro spark__wh_median(expr) -%}
    percentile({{ expr }}, 0.5)
{%- endmacro %}
