with

current_rows as (
    select * from {{ ref('base_crm__opportunity_history') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as opportunity_history_id,
        opportunity_id,
        stage_name,
        amount,
        probability,
        changed_at,
        _loaded_at
    from current_rows
)

select * from renamed
