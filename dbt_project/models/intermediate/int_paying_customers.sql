-- "Paying customer" (kpis.md, Global rules): a billing customer with at least one paid invoice
-- whose total > 0; first_paid_at = paid_at of its first such invoice; cohort_month = its month.
with

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

first_payment as (
    select
        customer_id,
        min(paid_at) as first_paid_at
    from invoices
    where status = 'paid' and total > 0 and paid_at is not null
    group by customer_id
)

select
    first_payment.customer_id,
    customers.crm_account_id,
    first_payment.first_paid_at,
    cast({{ dbt.date_trunc('month', 'first_payment.first_paid_at') }} as date) as cohort_month
from first_payment
left join customers
    on first_payment.customer_id = customers.customer_id
