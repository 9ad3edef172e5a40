-- Acquisition cost and payback per month and channel, plus an 'all' row per month (kpis.md,
-- kpi_acquisition_monthly). Channels are the 7 lead_source values and 'unknown'; every channel has
-- a row every month. Months run from the first month with marketing spend or a new customer
-- through the latest complete month (CAC and payback are read on months that are over).
{%- set channels = revenue_acquisition_channels() %}
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

months as (
    select * from {{ ref('int_month_spine') }}
),

paying_customers as (
    select * from {{ ref('int_paying_customers') }}
),

acquisition_channels as (
    select * from {{ ref('int_customer_acquisition_channel') }}
),

customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

marketing_spend as (
    select * from {{ ref('int_marketing_spend_usd') }}
),

operating_costs as (
    select * from {{ ref('int_operating_costs_usd') }}
),

monthly_revenue as (
    select * from {{ ref('kpi_revenue') }}
    where period_type = 'month'
),

clv_formula as (
    -- the formula CLV the Python asset copies into customer_clv
    select * from {{ ref('int_customer_clv_formula') }}
),

channel_list as (
    {%- for channel in channels %}
    select '{{ channel }}' as channel{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

new_customers as (
    select
        paying_customers.customer_id,
        paying_customers.cohort_month as month,
        coalesce(acquisition_channels.acquisition_channel, 'unknown') as channel,
        -- a customer whose first payment was a one-off has no MRR in its cohort month: 0
        coalesce(customer_mrr.mrr_usd, 0) as cohort_month_mrr_usd,
        clv_formula.clv_formula_usd
    from paying_customers
    left join acquisition_channels
        on paying_customers.customer_id = acquisition_channels.customer_id
    left join customer_mrr
        on paying_customers.customer_id = customer_mrr.customer_id
        and paying_customers.cohort_month = customer_mrr.month
    left join clv_formula
        on paying_customers.customer_id = clv_formula.customer_id
),

report_months as (
    select months.month
    from months
    cross join as_of
    where months.month >= (
            select min(first_month) from (
                select min(spend_month) as first_month from marketing_spend
                union all
                select min(month) from new_customers
            ) as first_months
        )
        and months.month <= as_of.latest_complete_month
),

spend_by_channel as (
    select spend_month as month, channel, sum(amount_usd) as marketing_spend_usd
    from marketing_spend
    group by 1, 2
),

new_by_channel as (
    select month, channel, count(*) as new_customers, sum(cohort_month_mrr_usd) as cohort_month_mrr_usd,
        avg(clv_formula_usd) as avg_clv_formula_usd
    from new_customers
    group by 1, 2
),

spend_all as (
    select spend_month as month, sum(amount_usd) as marketing_spend_usd
    from marketing_spend
    group by 1
),

new_all as (
    select month, count(*) as new_customers, sum(cohort_month_mrr_usd) as cohort_month_mrr_usd,
        avg(clv_formula_usd) as avg_clv_formula_usd
    from new_customers
    group by 1
),

sales_and_marketing_overhead as (
    select period_month as month, sum(amount_usd) as overhead_usd
    from operating_costs
    where cost_type in ('sales', 'marketing_overhead')
    group by 1
),

channel_rows as (
    select
        report_months.month,
        channel_list.channel,
        coalesce(spend_by_channel.marketing_spend_usd, 0) as marketing_spend_usd,
        coalesce(new_by_channel.new_customers, 0) as new_customers,
        coalesce(new_by_channel.cohort_month_mrr_usd, 0) as cohort_month_mrr_usd,
        new_by_channel.avg_clv_formula_usd,
        cast(null as decimal(18, 2)) as overhead_usd
    from report_months
    cross join channel_list
    left join spend_by_channel
        on report_months.month = spend_by_channel.month
        and channel_list.channel = spend_by_channel.channel
    left join new_by_channel
        on report_months.month = new_by_channel.month
        and channel_list.channel = new_by_channel.channel
),

all_rows as (
    -- computed from the sources, not by adding channel rows, so 'all' holds every channel
    select
        report_months.month,
        'all' as channel,
        coalesce(spend_all.marketing_spend_usd, 0) as marketing_spend_usd,
        coalesce(new_all.new_customers, 0) as new_customers,
        coalesce(new_all.cohort_month_mrr_usd, 0) as cohort_month_mrr_usd,
        new_all.avg_clv_formula_usd,
        coalesce(sales_and_marketing_overhead.overhead_usd, 0) as overhead_usd
    from report_months
    left join spend_all on report_months.month = spend_all.month
    left join new_all on report_months.month = new_all.month
    left join sales_and_marketing_overhead on report_months.month = sales_and_marketing_overhead.month
),

unit_economics as (
    select
        acquisition_rows.*,
        {{ exact_ratio('acquisition_rows.marketing_spend_usd', 'acquisition_rows.new_customers', 2) }} as cac_usd,
        case when acquisition_rows.channel = 'all' then
            {{ exact_ratio('acquisition_rows.marketing_spend_usd + acquisition_rows.overhead_usd', 'acquisition_rows.new_customers', 2) }}
        end as blended_cac_usd,
        {{ exact_ratio('acquisition_rows.cohort_month_mrr_usd', 'acquisition_rows.new_customers', 2) }} as new_customer_arpa_usd,
        -- payback and LTV:CAC divide the unrounded figures: the cent-rounded ones would shift them
        -- (7 customers, spend 1,000, MRR 10, margin 0.8: 125.00 unrounded, 124.88 from 142.86 and 1.43)
        {{ safe_divide('acquisition_rows.marketing_spend_usd', 'acquisition_rows.new_customers') }} as cac_unrounded,
        {{ safe_divide('acquisition_rows.cohort_month_mrr_usd', 'acquisition_rows.new_customers') }} as new_customer_arpa_unrounded,
        -- the month's gross margin as a 0-1 fraction, from the unrounded sums of kpi_revenue
        {{ safe_divide('monthly_revenue.net_revenue_usd - monthly_revenue.cogs_usd', 'monthly_revenue.net_revenue_usd') }} as gross_margin_fraction
    from (
        select * from channel_rows
        union all
        select * from all_rows
    ) as acquisition_rows
    left join monthly_revenue
        on acquisition_rows.month = monthly_revenue.period_start
)

select
    month,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(marketing_spend_usd as decimal(18, 2)) as marketing_spend_usd,
    cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
    cast(cac_usd as decimal(18, 2)) as cac_usd,
    cast(blended_cac_usd as decimal(18, 2)) as blended_cac_usd,
    cast(new_customer_arpa_usd as decimal(18, 2)) as new_customer_arpa_usd,
    cast({{ safe_divide('cac_unrounded', 'new_customer_arpa_unrounded * gross_margin_fraction') }} as decimal(18, 2)) as cac_payback_months,
    -- average clv_formula_usd of the month's new customers (int_customer_clv_formula) / cac
    cast({{ safe_divide('avg_clv_formula_usd', 'cac_unrounded') }} as decimal(18, 4)) as ltv_to_cac_ratio
from unit_economics
