-- MRR movements and retention per month, from the first month with any MRR through the latest
-- complete month (kpis.md, kpi_mrr_monthly). Built from fct_mrr only, so the identity
-- ending = starting + new + expansion + reactivation - contraction - churned holds to the cent.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

customer_mrr as (
    select * from {{ ref('fct_mrr') }}
),

report_months as (
    select months.month
    from months
    cross join as_of
    where months.month >= (select min(month) from customer_mrr)
        and months.month <= as_of.latest_complete_month
),

movements as (
    select
        month,
        sum(previous_mrr_usd) as starting_mrr_usd,
        sum(case when movement = 'new' then mrr_change_usd else 0 end) as new_mrr_usd,
        sum(case when movement = 'expansion' then mrr_change_usd else 0 end) as expansion_mrr_usd,
        sum(case when movement = 'reactivation' then mrr_change_usd else 0 end) as reactivation_mrr_usd,
        sum(case when movement = 'contraction' then -mrr_change_usd else 0 end) as contraction_mrr_usd,
        sum(case when movement = 'churn' then -mrr_change_usd else 0 end) as churned_mrr_usd,
        sum(mrr_usd) as ending_mrr_usd,
        sum(case when is_active then 1 else 0 end) as active_customers,
        sum(case when previous_mrr_usd > 0 then 1 else 0 end) as previous_active_customers,
        sum(case when movement = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_customers,
        sum(case when movement = 'expansion' then 1 else 0 end) as expanded_customers
    from customer_mrr
    group by month
),

-- trailing 12 months: customers active 12 months before M, their MRR then and now
-- (0 now when they have no fct_mrr row in M any more)
trailing_cohort as (
    select
        report_months.month,
        cohort.customer_id,
        cohort.mrr_usd as mrr_then_usd,
        coalesce(now_row.mrr_usd, 0) as mrr_now_usd
    from report_months
    inner join customer_mrr as cohort
        on cohort.month = cast({{ dbt.dateadd('month', -12, 'report_months.month') }} as date)
        and cohort.mrr_usd > 0
    left join customer_mrr as now_row
        on now_row.customer_id = cohort.customer_id
        and now_row.month = report_months.month
),

trailing_12m as (
    select
        month,
        sum(mrr_then_usd) as cohort_mrr_then_usd,
        sum(mrr_now_usd) as cohort_mrr_now_usd,
        sum(case when mrr_now_usd < mrr_then_usd then mrr_now_usd else mrr_then_usd end) as cohort_mrr_now_capped_usd
    from trailing_cohort
    group by month
),

filled as (
    select
        report_months.month,
        coalesce(movements.starting_mrr_usd, 0) as starting_mrr_usd,
        coalesce(movements.new_mrr_usd, 0) as new_mrr_usd,
        coalesce(movements.expansion_mrr_usd, 0) as expansion_mrr_usd,
        coalesce(movements.reactivation_mrr_usd, 0) as reactivation_mrr_usd,
        coalesce(movements.contraction_mrr_usd, 0) as contraction_mrr_usd,
        coalesce(movements.churned_mrr_usd, 0) as churned_mrr_usd,
        coalesce(movements.ending_mrr_usd, 0) as ending_mrr_usd,
        coalesce(movements.active_customers, 0) as active_customers,
        coalesce(movements.previous_active_customers, 0) as previous_active_customers,
        coalesce(movements.new_customers, 0) as new_customers,
        coalesce(movements.churned_customers, 0) as churned_customers,
        coalesce(movements.reactivated_customers, 0) as reactivated_customers,
        coalesce(movements.expanded_customers, 0) as expanded_customers,
        trailing_12m.cohort_mrr_then_usd,
        trailing_12m.cohort_mrr_now_usd,
        trailing_12m.cohort_mrr_now_capped_usd
    from report_months
    left join movements
        on report_months.month = movements.month
    left join trailing_12m
        on report_months.month = trailing_12m.month
),

ratios as (
    select
        filled.*,
        {{ exact_ratio('churned_customers', 'previous_active_customers', 6) }} as logo_churn_rate,
        {{ exact_ratio('contraction_mrr_usd + churned_mrr_usd', 'starting_mrr_usd', 6) }} as gross_mrr_churn_rate,
        {{ exact_ratio('contraction_mrr_usd + churned_mrr_usd - expansion_mrr_usd - reactivation_mrr_usd', 'starting_mrr_usd', 6) }} as net_mrr_churn_rate
    from filled
)

select
    month,
    cast(starting_mrr_usd as decimal(18, 2)) as starting_mrr_usd,
    cast(new_mrr_usd as decimal(18, 2)) as new_mrr_usd,
    cast(expansion_mrr_usd as decimal(18, 2)) as expansion_mrr_usd,
    cast(reactivation_mrr_usd as decimal(18, 2)) as reactivation_mrr_usd,
    cast(contraction_mrr_usd as decimal(18, 2)) as contraction_mrr_usd,
    cast(churned_mrr_usd as decimal(18, 2)) as churned_mrr_usd,
    cast(ending_mrr_usd as decimal(18, 2)) as ending_mrr_usd,
    cast(12 * ending_mrr_usd as decimal(18, 2)) as arr_usd,
    cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
    cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
    cast(churned_customers as {{ dbt.type_bigint() }}) as churned_customers,
    cast(reactivated_customers as {{ dbt.type_bigint() }}) as reactivated_customers,
    {{ exact_ratio('ending_mrr_usd', 'active_customers', 2) }} as arpa_usd,
    cast(logo_churn_rate as decimal(18, 6)) as logo_churn_rate,
    cast(1 - logo_churn_rate as decimal(18, 6)) as customer_retention_rate,
    cast(gross_mrr_churn_rate as decimal(18, 6)) as gross_mrr_churn_rate,
    cast(net_mrr_churn_rate as decimal(18, 6)) as net_mrr_churn_rate,
    cast(1 - net_mrr_churn_rate as decimal(18, 6)) as nrr_rate,
    cast(1 - gross_mrr_churn_rate as decimal(18, 6)) as grr_rate,
    {{ exact_ratio('cohort_mrr_now_usd', 'cohort_mrr_then_usd', 6) }} as nrr_trailing_12m_rate,
    {{ exact_ratio('cohort_mrr_now_capped_usd', 'cohort_mrr_then_usd', 6) }} as grr_trailing_12m_rate,
    {{ exact_ratio('expanded_customers', 'previous_active_customers', 6) }} as upsell_rate
from ratios
