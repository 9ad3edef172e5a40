with

current_rows as (
    select * from {{ ref('base_billing__invoices') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as invoice_id,
        customer_id,
        subscription_id,
        number as invoice_number,
        status,
        currency,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal,
        {{ minor_to_major('tax', 'currency') }} as tax,
        {{ minor_to_major('total', 'currency') }} as total,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        {{ minor_to_major('amount_due', 'currency') }} as amount_due,
        created as created_at,
        period_start as period_start_at,
        period_end as period_end_at,
        due_date as due_at,
        paid_at,
        _loaded_at
    from current_rows
)

select * from renamed
