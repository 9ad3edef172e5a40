with

current_rows as (
    select * from {{ ref('base_crm__leads') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as lead_id,
        {{ pii_hash('email') }} as email_hash,
        company,
        lead_source,
        status,
        owner_id,
        created_at,
        is_converted,
        converted_at,
        converted_account_id,
        converted_opportunity_id,
        _loaded_at
    from current_rows
)

select * from renamed
