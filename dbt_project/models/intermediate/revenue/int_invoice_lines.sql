-- Every staged invoice line with its invoice, price and USD amounts. A line whose invoice is not
-- in staging (never landed, or quarantined: lines follow their invoice), or whose price_id names a
-- price that is not, is kept with is_orphan = true and counts in no KPI until that parent lands
-- (raw_sources.md, bad input): without its price a line would silently give no MRR.
-- Incremental: a nightly run recomputes the lines whose row, invoice, price or FX rate changed
-- (macros/incremental_facts.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='invoice_line_id',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows('invoice_line_id', int_invoice_lines_changed_keys()) }}"
) }}
with

line_items as (
    select * from {{ ref('stg_billing__invoice_line_items') }}
    {%- if is_incremental() %}
    where invoice_line_id in ({{ changed_keys() }})
    {%- endif %}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

prices as (
    select * from {{ ref('stg_billing__prices') }}
),

lines_with_invoice as (
    select
        line_items.invoice_line_id,
        line_items.invoice_id,
        invoices.invoice_id is null as is_invoice_missing,
        invoices.customer_id,
        -- a line without its own subscription belongs to its invoice's subscription
        coalesce(line_items.subscription_id, invoices.subscription_id) as subscription_id,
        line_items.price_id,
        line_items.line_type,
        line_items.is_proration,
        invoices.status as invoice_status,
        invoices.created_at as invoice_created_at,
        cast(invoices.created_at as date) as invoice_date,
        invoices.paid_at,
        line_items.service_period_start_at,
        line_items.service_period_end_at,
        line_items.quantity,
        invoices.currency,
        -- lines carry no currency: their minor units are in the invoice's currency (unknown for orphans)
        case when invoices.currency is not null
            then {{ minor_to_major('line_items.amount_minor', 'invoices.currency') }} end as amount,
        case when invoices.currency is not null
            then {{ minor_to_major('coalesce(line_items.discount_amount_minor, 0)', 'invoices.currency') }} end as discount_amount
    from line_items
    left join invoices
        on line_items.invoice_id = invoices.invoice_id
),

converted as (
    select
        lines_with_invoice.*,
        lines_with_invoice.is_invoice_missing
            or (lines_with_invoice.price_id is not null and prices.price_id is null) as is_orphan,
        -- USD at the rate of the invoice date (kpis.md); to_usd rounds each line to the cent
        {{ to_usd('lines_with_invoice.amount', 'fx') }} as amount_usd,
        {{ to_usd('lines_with_invoice.discount_amount', 'fx') }} as discount_usd,
        prices.price_type,
        coalesce(prices.price_type = 'recurring', false) and lines_with_invoice.line_type = 'subscription' as is_recurring,
        case
            when prices.price_type = 'recurring' then
                case prices.recurring_interval when 'month' then 1 when 'year' then 12 end
                * coalesce(prices.recurring_interval_count, 1)
        end as billing_interval_months
    from lines_with_invoice
    {{ fx_join('fx', 'lines_with_invoice.currency', 'lines_with_invoice.invoice_created_at') }}
    left join prices
        on lines_with_invoice.price_id = prices.price_id
),

with_mrr as (
    select
        converted.*,
        -- the line counts towards MRR: recurring, not a proration, invoice paid or open
        (
            not is_orphan
            and is_recurring
            and not is_proration
            and invoice_status in ('paid', 'open')
        ) as is_mrr_line
    from converted
)

select
    invoice_line_id,
    invoice_id,
    is_orphan,
    customer_id,
    subscription_id,
    price_id,
    line_type,
    price_type,
    is_recurring,
    is_proration,
    is_mrr_line,
    invoice_status,
    invoice_created_at,
    invoice_date,
    paid_at,
    service_period_start_at,
    service_period_end_at,
    quantity,
    currency,
    -- explicit types: a CASE over decimals loses its scale on some engines
    cast(amount as decimal(18, 2)) as amount,
    cast(amount_usd as decimal(18, 2)) as amount_usd,
    cast(discount_usd as decimal(18, 2)) as discount_usd,
    cast(billing_interval_months as integer) as billing_interval_months,
    -- monthly-normalised, rounded half away from zero to the cent per line (so sums stay exact);
    -- 0 for lines that never give MRR (one-off, proration, void/draft/uncollectible, orphan)
    cast(case
        when is_mrr_line then coalesce({{ exact_ratio('amount_usd', 'billing_interval_months', 2) }}, 0)
        else 0
    end as decimal(18, 2)) as mrr_usd,
    {{ batch_marker() }} as _batch_at
from with_mrr
