{#- on-run-end: the read-only role BI tools use. PostgreSQL only (DuckDB readers open the file
    read-only instead). SELECT on the published schema marts and nothing else; roles are
    cluster-wide, the grants are per database. The role name is the var bi_reader_role.
    Never on the build schema (marts__next, macro generate_schema_name): a run builds there and the
    publish step swaps it in for marts and moves the grants (orchestration/publishing.py); any
    privilege the role still has on it is revoked here. -#}
{% macro grant_bi_reader() %}{{ return(adapter.dispatch('grant_bi_reader')()) }}{% endmacro %}

{% macro default__grant_bi_reader() %}select 1{% endmacro %}

{% macro postgres__grant_bi_reader() %}
    {%- set role = var('bi_reader_role') -%}
    {%- set build = marts_build_schema() -%}
    do $grant$
    begin
        if not exists (select 1 from pg_roles where rolname = '{{ role }}') then
            create role {{ role }} login;
        end if;
    exception when duplicate_object then null;  -- created concurrently by another database's build
    end $grant$;
    revoke all on schema public from {{ role }};
    create schema if not exists marts;
    grant usage on schema marts to {{ role }};
    grant select on all tables in schema marts to {{ role }};
    alter default privileges in schema marts grant select on tables to {{ role }}
    {%- if build != 'marts' %};
    do $revoke$
    begin
        if exists (select 1 from pg_namespace where nspname = '{{ build }}') then
            revoke all on schema {{ build }} from {{ role }};
            revoke all on all tables in schema {{ build }} from {{ role }};
            alter default privileges in schema {{ build }} revoke all on tables from {{ role }};
        end if;
    end $revoke$
    {%- endif %}
{% endmacro %}
