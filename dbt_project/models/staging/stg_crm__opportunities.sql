with

current_rows as (
    select * from {{ ref('base_crm__opportunities') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as opportunity_id,
        account_id,
        owner_id,
        name as opportunity_name,
        type as opportunity_type,
        lead_source,
        stage_name,
        amount,
        currency,
        probability,
        created_at,
        close_date,
        is_closed,
        is_won,
        _loaded_at
    from current_rows
)

select * from renamed
