with

current_rows as (
    select * from {{ ref('base_crm__quotas') }}
    where _row_status = 'current'
),

renamed as (
    select
        owner_id,
        period_month,
        quota_amount,
        currency,
        _loaded_at
    from current_rows
)

select * from renamed
