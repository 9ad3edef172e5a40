{#- on-run-end: the read-only role BI tools use. PostgreSQL only (DuckDB readers open the file
    read-only instead). SELECT on schema marts and nothing else; roles are cluster-wide, the grants
    are per database. The role name is the var bi_reader_role. -#}
{% macro grant_bi_reader() %}{{ return(adapter.dispatch('grant_bi_reader')()) }}{% endmacro %}

{% macro default__grant_bi_reader() %}select 1{% endmacro %}

{% macro postgres__grant_bi_reader() %}
    {%- set role = var('bi_reader_role') -%}
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
{% endmacro %}
