-- Per raw table: landed = staged + superseded + soft-deleted + quarantined (raw_sources.md).
with

{% for src, tbl in raw_tables() %}
landed_{{ src }}__{{ tbl }} as (
    select count(*) as landed_rows from {{ source(src, tbl) }}
),

statuses_{{ src }}__{{ tbl }} as (
    select
        sum(case when _row_status = 'superseded' then 1 else 0 end) as superseded_rows,
        sum(case when _row_status = 'soft_deleted' then 1 else 0 end) as soft_deleted_rows,
        sum(case when _row_status = 'quarantined' then 1 else 0 end) as quarantined_rows
    from {{ ref('base_' ~ src ~ '__' ~ tbl) }}
),

staged_{{ src }}__{{ tbl }} as (
    select count(*) as staged_rows from {{ ref('stg_' ~ src ~ '__' ~ tbl) }}
),

counts_{{ src }}__{{ tbl }} as (
    select
        '{{ src }}' as source_name,
        '{{ tbl }}' as table_name,
        landed.landed_rows,
        staged.staged_rows,
        coalesce(statuses.superseded_rows, 0) as superseded_rows,
        coalesce(statuses.soft_deleted_rows, 0) as soft_deleted_rows,
        coalesce(statuses.quarantined_rows, 0) as quarantined_rows
    from landed_{{ src }}__{{ tbl }} as landed
    cross join statuses_{{ src }}__{{ tbl }} as statuses
    cross join staged_{{ src }}__{{ tbl }} as staged
),
{% endfor %}

all_tables as (
    {% for src, tbl in raw_tables() %}
    select * from counts_{{ src }}__{{ tbl }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    *,
    landed_rows = staged_rows + superseded_rows + soft_deleted_rows + quarantined_rows as is_reconciled
from all_tables
