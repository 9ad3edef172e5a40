with

current_rows as (
    select * from {{ ref('base_billing__charges') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as charge_id,
        customer_id,
        invoice_id,
        {{ minor_to_major('amount', 'currency') }} as amount,
        currency,
        status,
        failure_code,
        created as created_at,
        _loaded_at
    from current_rows
)

select * from renamed
