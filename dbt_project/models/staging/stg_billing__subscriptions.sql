with

current_rows as (
    select * from {{ ref('base_billing__subscriptions') }}
    where _row_status = 'current'
),

renamed as (
    select
        id as subscription_id,
        customer_id,
        status,
        created as created_at,
        start_date as started_at,
        trial_start as trial_start_at,
        trial_end as trial_end_at,
        cancel_at_period_end,
        canceled_at,
        ended_at,
        _loaded_at
    from current_rows
)

select * from renamed
