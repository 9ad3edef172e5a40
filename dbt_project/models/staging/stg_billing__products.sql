with

current_rows as (
    select * from {{ ref('base_billing__products') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as product_id,
        name as product_name,
        active as is_active,
        _loaded_at
    from current_rows
)

select * from renamed
