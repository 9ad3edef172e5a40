with

current_rows as (
    select * from {{ ref('base_finance__fx_rates') }}
    where _row_status = 'current'
),

renamed as (
    select
        rate_date,
        currency,
        usd_per_unit,
        _loaded_at
    from current_rows
)

select * from renamed
