{# Custom schemas are used verbatim (staging, marts, audit ...), not prefixed with the
   target schema: BI tools and analysts read a stable `marts` schema on every engine. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema | trim }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
