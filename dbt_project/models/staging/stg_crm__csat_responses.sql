with

current_rows as (
    select * from {{ ref('base_crm__csat_responses') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as csat_response_id,
        account_id,
        score,
        responded_at,
        _loaded_at
    from current_rows
)

select * from renamed
