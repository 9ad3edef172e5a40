with

current_rows as (
    select * from {{ ref('base_billing__prices') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as price_id,
        product_id,
        {{ minor_to_major('unit_amount', 'currency') }} as unit_amount,
        currency,
        type as price_type,
        recurring_interval,
        recurring_interval_count,
        active as is_active,
        _loaded_at
    from current_rows
)

select * from renamed
