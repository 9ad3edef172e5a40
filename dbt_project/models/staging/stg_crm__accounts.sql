with

current_rows as (
    select * from {{ ref('base_crm__accounts') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as account_id,
        name as account_name,
        industry,
        segment,
        country,
        owner_id,
        created_at,
        _loaded_at
    from current_rows
)

select * from renamed
