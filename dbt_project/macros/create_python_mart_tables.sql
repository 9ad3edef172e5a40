{#- on-run-start: create the Python-computed marts (source `analytics`) empty when they do not
    exist yet, so the dbt models that read them build on a first run; the Python assets replace them.
    Their schema is the marts build schema (WAREHOUSE_MARTS_SCHEMA, see _analytics.yml). -#}
{% macro create_python_mart_tables() %}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- set statements = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'analytics' -%}
            {%- set cols = [] -%}
            {%- for col in node.columns.values() -%}
                {%- do cols.append(adapter.quote(col.name) ~ ' ' ~ col.data_type) -%}
            {%- endfor -%}
            {%- if node.schema not in schemas -%}
                {%- do schemas.append(node.schema) -%}
                {%- do statements.append('create schema if not exists ' ~ node.schema) -%}
            {%- endif -%}
            {%- do statements.append('create table if not exists ' ~ node.schema ~ '.' ~ node.name ~ ' (' ~ cols | join(', ') ~ ')') -%}
        {%- endfor -%}
        {%- if statements -%}
{{ statements | join(';\n') }}
        {%- else -%}select 1{%- endif -%}
    {%- else -%}select 1{%- endif -%}
{% endmacro %}
