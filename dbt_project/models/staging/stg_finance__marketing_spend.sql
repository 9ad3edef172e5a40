with

current_rows as (
    select * from {{ ref('base_finance__marketing_spend') }}
    where _row_status = 'current'
),

renamed as (
    select
        spend_date,
        channel,
        campaign,
        amount,
        currency,
        _loaded_at
    from current_rows
)

select * from renamed
