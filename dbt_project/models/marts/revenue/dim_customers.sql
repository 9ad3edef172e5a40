-- One row per billing customer (kpis.md, dim_customers). Customers referenced by an invoice whose
-- own record is not staged (not landed yet, or quarantined) are kept with NULL attributes, so
-- every fact's customer_id resolves and their money still counts.
with

as_of as (
    select * from {{ ref('int_as_of') }}
),

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

acquisition_channels as (
    select * from {{ ref('int_customer_acquisition_channel') }}
),

paying_customers as (
    select * from {{ ref('int_paying_customers') }}
),

customer_mrr as (
    select * from {{ ref('fct_mrr') }}
),

invoice_lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

refunds as (
    select * from {{ ref('int_refunds') }}
),

all_customer_ids as (
    select customer_id from customers
    union
    select customer_id from invoices where customer_id is not null
    union
    select customer_id from refunds where customer_id is not null
),

mrr_summary as (
    select
        customer_mrr.customer_id,
        min(case when customer_mrr.is_active then customer_mrr.month end) as mrr_start_month,
        sum(case when customer_mrr.month = as_of.latest_complete_month then customer_mrr.mrr_usd else 0 end) as current_mrr
    from customer_mrr
    cross join as_of
    group by customer_mrr.customer_id
),

paid_revenue as (
    select customer_id, sum(amount_usd) as paid_revenue_usd
    from invoice_lines
    where invoice_status = 'paid'
    group by customer_id
),

refunded as (
    select customer_id, sum(amount_usd) as refunds_usd
    from refunds
    where status = 'succeeded' and customer_id is not null
    group by customer_id
)

select
    cast(all_customer_ids.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(acquisition_channels.crm_account_id as {{ dbt.type_string() }}) as crm_account_id,
    cast(accounts.account_name as {{ dbt.type_string() }}) as account_name,
    cast(accounts.segment as {{ dbt.type_string() }}) as segment,
    cast(accounts.industry as {{ dbt.type_string() }}) as industry,
    cast(accounts.country as {{ dbt.type_string() }}) as country,
    cast(accounts.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(coalesce(acquisition_channels.acquisition_channel, 'unknown') as {{ dbt.type_string() }}) as acquisition_channel,
    cast(paying_customers.first_paid_at as {{ dbt.type_timestamp() }}) as first_paid_at,
    paying_customers.cohort_month,
    mrr_summary.mrr_start_month,
    cast(coalesce(mrr_summary.current_mrr, 0) as decimal(18, 2)) as current_mrr,
    cast(case
        when mrr_summary.current_mrr > 0 then 'active'
        when mrr_summary.mrr_start_month is not null then 'churned'
        when paying_customers.customer_id is not null then 'one_off'
        else 'never_paid'
    end as {{ dbt.type_string() }}) as status,
    cast(coalesce(paid_revenue.paid_revenue_usd, 0) - coalesce(refunded.refunds_usd, 0) as decimal(18, 2)) as lifetime_revenue
from all_customer_ids
left join acquisition_channels
    on all_customer_ids.customer_id = acquisition_channels.customer_id
left join accounts
    on acquisition_channels.crm_account_id = accounts.account_id
left join paying_customers
    on all_customer_ids.customer_id = paying_customers.customer_id
left join mrr_summary
    on all_customer_ids.customer_id = mrr_summary.customer_id
left join paid_revenue
    on all_customer_ids.customer_id = paid_revenue.customer_id
left join refunded
    on all_customer_ids.customer_id = refunded.customer_id
