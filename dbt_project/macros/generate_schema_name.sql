{# Custom schemas are used verbatim (staging, marts, audit ...), not prefixed with the
   target schema: BI tools and analysts read a stable `marts` schema on every engine.
   The marts are built where WAREHOUSE_MARTS_SCHEMA says (orchestration/settings.py): `marts` on
   DuckDB (the run writes a private build file), the build schema `marts__next` on PostgreSQL,
   swapped in for `marts` once every check passed (orchestration/publishing.py). The default keeps
   a hand-run `dbt build --target postgres` away from the published marts as well. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema | trim }}
    {%- elif custom_schema_name | trim == 'marts' -%}{{ marts_build_schema() }}
    {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{% macro marts_build_schema() -%}
    {{- env_var('WAREHOUSE_MARTS_SCHEMA', 'marts__next' if target.type == 'postgres' else 'marts') | trim -}}
{%- endmacro %}
