with

current_rows as (
    select * from {{ ref('base_billing__refunds') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as refund_id,
        charge_id,
        {{ minor_to_major('amount', 'currency') }} as amount,
        currency,
        status,
        reason,
        created as created_at,
        _loaded_at
    from current_rows
)

select * from renamed
