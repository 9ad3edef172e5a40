-- The 'all' row of kpi_acquisition_monthly holds every channel: its spend and new customers equal
-- the sums of the channel rows (every spend channel and every customer channel is in the list).
with

acquisition as (
    select * from {{ ref('kpi_acquisition_monthly') }}
),

channel_sums as (
    select month, sum(marketing_spend_usd) as marketing_spend_usd, sum(new_customers) as new_customers
    from acquisition
    where channel <> 'all'
    group by month
)

select all_rows.month
from acquisition as all_rows
inner join channel_sums
    on all_rows.month = channel_sums.month
where all_rows.channel = 'all'
    and (all_rows.marketing_spend_usd <> channel_sums.marketing_spend_usd
         or all_rows.new_customers <> channel_sums.new_customers)
