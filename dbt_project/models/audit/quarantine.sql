-- Every landed row that failed a rule, with the rule and the raw row, for every raw table.
with

{% for src, tbl in raw_tables() %}
quarantined_{{ src }}__{{ tbl }} as (
    select
        '{{ src }}' as source_name,
        '{{ tbl }}' as table_name,
        _source_file as source_file,
        _row_number as row_number,
        _primary_key_value as primary_key_value,
        _dq_rule as rule,
        _raw_json as raw_row_json
    from {{ ref('base_' ~ src ~ '__' ~ tbl) }}
    where _row_status = 'quarantined'
),
{% endfor %}

ledger as (
    select file_path, min(loaded_at) as loaded_at
    from {{ source('audit', 'load_ledger') }}
    where outcome = 'loaded'
    group by file_path
),

quarantined as (
    {% for src, tbl in raw_tables() %}
    select * from quarantined_{{ src }}__{{ tbl }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    quarantined.*,
    -- the row was quarantined when its file was loaded (stable across rebuilds)
    ledger.loaded_at as quarantined_at
from quarantined
left join ledger
    on quarantined.source_file = ledger.file_path
