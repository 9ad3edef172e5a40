with

current_rows as (
    select * from {{ ref('base_crm__users') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as user_id,
        name as user_name,
        role,
        team,
        manager_id,
        hired_at,
        is_active,
        _loaded_at
    from current_rows
)

select * from renamed
