-- One row per invoice line of an invoice in status paid, open or uncollectible (kpis.md).
-- Orphan lines (invoice or price not staged) and lines of draft/void invoices are left out.
-- Incremental, on the same changed keys as int_invoice_lines (macros/incremental_facts.sql):
-- a line that became an orphan, void or deleted leaves through the pre_hook.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='invoice_line_id',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows('invoice_line_id', int_invoice_lines_changed_keys()) }}"
) }}
with

invoice_lines as (
    select * from {{ ref('int_invoice_lines') }}
    where not is_orphan
        and invoice_status in ('paid', 'open', 'uncollectible')
    {%- if is_incremental() %}
        and invoice_line_id in ({{ changed_keys() }})
    {%- endif %}
)

select
    cast(invoice_line_id as {{ dbt.type_string() }}) as invoice_line_id,
    cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
    cast(price_id as {{ dbt.type_string() }}) as price_id,
    cast(line_type as {{ dbt.type_string() }}) as line_type,
    is_recurring,
    is_proration,
    cast(invoice_status as {{ dbt.type_string() }}) as invoice_status,
    invoice_date,
    cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
    cast(service_period_start_at as {{ dbt.type_timestamp() }}) as service_period_start,
    cast(service_period_end_at as {{ dbt.type_timestamp() }}) as service_period_end,
    cast(quantity as {{ dbt.type_bigint() }}) as quantity,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(amount as decimal(18, 2)) as amount,
    cast(amount_usd as decimal(18, 2)) as amount_usd,
    cast(discount_usd as decimal(18, 2)) as discount_usd,
    cast(billing_interval_months as integer) as billing_interval_months,
    cast(mrr_usd as decimal(18, 2)) as mrr_usd,
    {{ batch_marker() }} as _batch_at
from invoice_lines
