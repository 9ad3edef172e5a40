-- One row per customer per month from its first month with MRR > 0 through the month after its
-- last one (so the churn month exists), up to the latest complete month (kpis.md, fct_mrr).
-- Months in between with MRR 0 (churned, not yet back) are kept so reactivations show.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

customer_ranges as (
    select
        customer_id,
        min(month) as first_mrr_month,
        max(month) as last_mrr_month
    from customer_mrr
    where mrr_usd > 0
    group by customer_id
),

customer_months as (
    select
        customer_ranges.customer_id,
        months.month
    from customer_ranges
    cross join as_of
    inner join months
        on months.month >= customer_ranges.first_mrr_month
        and months.month <= cast({{ dbt.dateadd('month', 1, 'customer_ranges.last_mrr_month') }} as date)
        and months.month <= as_of.latest_complete_month
),

with_mrr as (
    select
        customer_months.customer_id,
        customer_months.month,
        coalesce(customer_mrr.mrr_usd, 0) as mrr_usd
    from customer_months
    left join customer_mrr
        on customer_months.customer_id = customer_mrr.customer_id
        and customer_months.month = customer_mrr.month
),

with_previous as (
    select
        customer_id,
        month,
        mrr_usd,
        -- rows are consecutive months, so the previous row is month M-1
        coalesce(lag(mrr_usd) over (partition by customer_id order by month), 0) as previous_mrr_usd,
        coalesce(max(mrr_usd) over (
            partition by customer_id order by month
            rows between unbounded preceding and 1 preceding
        ), 0) > 0 as had_mrr_before
    from with_mrr
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    month,
    cast(mrr_usd as decimal(18, 2)) as mrr_usd,
    cast(previous_mrr_usd as decimal(18, 2)) as previous_mrr_usd,
    cast(mrr_usd - previous_mrr_usd as decimal(18, 2)) as mrr_change_usd,
    cast(case
        when previous_mrr_usd = 0 and mrr_usd > 0 and not had_mrr_before then 'new'
        when previous_mrr_usd = 0 and mrr_usd > 0 then 'reactivation'
        when previous_mrr_usd > 0 and mrr_usd = 0 then 'churn'
        when previous_mrr_usd > 0 and mrr_usd > previous_mrr_usd then 'expansion'
        when previous_mrr_usd > 0 and mrr_usd < previous_mrr_usd then 'contraction'
        else 'unchanged'
    end as {{ dbt.type_string() }}) as movement,
    mrr_usd > 0 as is_active
from with_previous
