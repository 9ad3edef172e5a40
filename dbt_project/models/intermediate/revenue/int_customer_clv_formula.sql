-- The classic CLV formula per paying customer (kpis.md, customer_clv.clv_formula_usd):
-- ARPA x gross margin (trailing 12 complete months) / monthly logo churn of its segment (trailing
-- 12 complete months). Computed here, in the engine, so kpi_acquisition_monthly (LTV:CAC) needs no
-- Python asset upstream and a run is one dbt invocation; the Python asset customer_clv copies these
-- two columns into the customer_clv mart. It reads the marts because the formula is defined on them
-- (fct_mrr movements, dim_customers segment, kpi_revenue margin).
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
    where status <> 'never_paid'
),

customer_mrr as (
    select * from {{ ref('fct_mrr') }}
),

monthly_revenue as (
    select * from {{ ref('kpi_revenue') }}
    where period_type = 'month'
),

trailing_window as (
    -- the 12 complete months ending with the latest, and the 12 month-ends before them
    select
        latest_complete_month as last_month,
        cast({{ dbt.dateadd('month', -11, 'latest_complete_month') }} as date) as first_month,
        cast({{ dbt.dateadd('month', -12, 'latest_complete_month') }} as date) as first_at_risk_month,
        cast({{ dbt.dateadd('month', -1, 'latest_complete_month') }} as date) as last_at_risk_month
    from as_of
),

gross_margin as (
    -- 0 when the window has no positive net revenue (the formula then gives 0, not NULL)
    select
        coalesce({{ safe_divide(
            'sum(monthly_revenue.net_revenue_usd) - sum(monthly_revenue.cogs_usd)',
            'case when sum(monthly_revenue.net_revenue_usd) > 0 then sum(monthly_revenue.net_revenue_usd) end'
        ) }}, 0) as gross_margin_fraction
    from monthly_revenue
    cross join trailing_window
    where monthly_revenue.period_start between trailing_window.first_month and trailing_window.last_month
),

customer_segments as (
    select customer_id, coalesce(segment, 'unknown') as segment
    from customers
),

segment_mrr as (
    select customer_segments.segment, customer_mrr.month, customer_mrr.mrr_usd, customer_mrr.movement
    from customer_mrr
    inner join customer_segments
        on customer_mrr.customer_id = customer_segments.customer_id
),

segment_churn as (
    -- pooled over the window: churn movements / customer-months active at the previous month end
    select
        segment_mrr.segment,
        sum(case when segment_mrr.movement = 'churn'
            and segment_mrr.month between trailing_window.first_month and trailing_window.last_month
            then 1 else 0 end) as churned_customers,
        sum(case when segment_mrr.mrr_usd > 0
            and segment_mrr.month between trailing_window.first_at_risk_month and trailing_window.last_at_risk_month
            then 1 else 0 end) as customers_at_risk
    from segment_mrr
    cross join trailing_window
    group by segment_mrr.segment
),

segment_churn_rate as (
    -- NULL when the segment had no churn (an infinite lifetime is no estimate)
    select
        segment,
        case when churned_customers > 0 and customers_at_risk > 0
            then cast(churned_customers as {{ type_double() }}) / customers_at_risk
        end as monthly_churn_rate
    from segment_churn
),

customer_arpa as (
    select customer_id, avg(cast(mrr_usd as {{ type_double() }})) as arpa_usd
    from customer_mrr
    where mrr_usd > 0
    group by customer_id
)

select
    cast(customer_segments.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(customer_segments.segment as {{ dbt.type_string() }}) as segment,
    cast(customer_arpa.arpa_usd as {{ type_double() }}) as arpa_usd,
    cast(gross_margin.gross_margin_fraction as {{ type_double() }}) as gross_margin_fraction,
    cast(segment_churn_rate.monthly_churn_rate as {{ type_double() }}) as segment_monthly_churn_rate,
    cast(customer_arpa.arpa_usd * gross_margin.gross_margin_fraction / segment_churn_rate.monthly_churn_rate
        as decimal(18, 2)) as clv_formula_usd,
    cast(round(cast(1 / segment_churn_rate.monthly_churn_rate as decimal(38, 10)), 4)
        as {{ type_double() }}) as expected_lifetime_months
from customer_segments
cross join gross_margin
left join customer_arpa
    on customer_segments.customer_id = customer_arpa.customer_id
left join segment_churn_rate
    on customer_segments.segment = segment_churn_rate.segment
