{#- type_double(): an 8-byte float column type. dbt.type_float() is `float`, which is 4 bytes on
    DuckDB (REAL) and 8 on PostgreSQL; the Python marts' columns are double precision. -#}
{% macro type_double() %}{{ return(adapter.dispatch('type_double')()) }}{% endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
