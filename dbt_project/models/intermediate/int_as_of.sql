-- The warehouse's "now" (kpis.md, As of): the latest _loaded_at among all landed rows, unless
-- the dbt var as_of_date overrides it. Nothing else may read the wall clock.
with

ledger as (
    select max_loaded_at
    from {{ source('audit', 'load_ledger') }}
    where outcome = 'loaded'
),

latest as (
    select
        {% if var('as_of_date') %}
        cast('{{ var("as_of_date") }}' as timestamp) as as_of_at
        {% else %}
        max({{ wh_try_timestamp_utc('max_loaded_at') }}) as as_of_at
        {% endif %}
    from ledger
)

select
    as_of_at,
    cast(as_of_at as date) as as_of_date,
    cast({{ dbt.date_trunc('month', 'as_of_at') }} as date) as current_month,
    cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'as_of_at')) }} as date) as latest_complete_month
from latest
