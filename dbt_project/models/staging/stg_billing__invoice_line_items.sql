with

current_rows as (
    select * from {{ ref('base_billing__invoice_line_items') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as invoice_line_id,
        invoice_id,
        subscription_id,
        price_id,
        type as line_type,
        quantity,
        amount as amount_minor,
        discount_amount as discount_amount_minor,
        proration as is_proration,
        period_start as service_period_start_at,
        period_end as service_period_end_at,
        description,
        _loaded_at
    from current_rows
)

select * from renamed
