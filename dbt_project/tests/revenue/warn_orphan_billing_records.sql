-- raw_sources.md: a billing record whose foreign key points to a record that is not staged (an
-- invoice line without its invoice or its price, a refund without its charge) is kept, flagged
-- is_orphan and left out of every KPI until its parent lands. Warn-level: the run goes on,
-- reporting each (record, foreign key) waiting for its parent.
-- Reads several models: Dagster shows it as an asset check of int_invoice_lines (meta dagster.ref).
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_invoice_lines'}}}) }}
with

orphan_lines as (
    select * from {{ ref('int_invoice_lines') }}
    where is_orphan
)

select 'invoice_line_items' as table_name, orphan_lines.invoice_line_id as record_id,
    'invoice_id' as foreign_key, orphan_lines.invoice_id as missing_parent_id
from orphan_lines
left join {{ ref('stg_billing__invoices') }} as invoices
    on orphan_lines.invoice_id = invoices.invoice_id
where invoices.invoice_id is null
union all
select 'invoice_line_items', orphan_lines.invoice_line_id, 'price_id', orphan_lines.price_id
from orphan_lines
left join {{ ref('stg_billing__prices') }} as prices
    on orphan_lines.price_id = prices.price_id
where orphan_lines.price_id is not null
    and prices.price_id is null
union all
select 'refunds', refund_id, 'charge_id', charge_id
from {{ ref('int_refunds') }}
where is_orphan
