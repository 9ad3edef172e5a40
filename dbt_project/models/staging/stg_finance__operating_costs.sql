with

current_rows as (
    select * from {{ ref('base_finance__operating_costs') }}
    where _row_status = 'current'
),

renamed as (
    select
        period_month,
        cost_type,
        amount,
        currency,
        _loaded_at
    from current_rows
)

select * from renamed
