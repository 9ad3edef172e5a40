with

current_rows as (
    select * from {{ ref('base_crm__contacts') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as contact_id,
        account_id,
        {{ pii_hash('email') }} as email_hash,
        created_at,
        _loaded_at
    from current_rows
)

select * from renamed
