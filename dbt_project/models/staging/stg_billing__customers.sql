with

current_rows as (
    select * from {{ ref('base_billing__customers') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as customer_id,
        {{ pii_hash('email') }} as email_hash,
        created as created_at,
        currency,
        crm_account_id,
        _loaded_at
    from current_rows
)

select * from renamed
