with

current_rows as (
    select * from {{ ref('base_crm__activities') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as activity_id,
        owner_id,
        type as activity_type,
        lead_id,
        contact_id,
        opportunity_id,
        account_id,
        activity_at,
        status,
        _loaded_at
    from current_rows
)

select * from renamed
