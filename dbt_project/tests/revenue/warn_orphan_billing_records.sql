-- raw_sources.md: a billing record whose foreign key points to a record that is not staged (an
-- invoice line without its invoice, a refund without its charge) is kept, flagged is_orphan and left
-- out of every KPI until its parent lands. Warn-level: the run goes on, reporting how many wait.
-- Reads two models: Dagster shows it as an asset check of int_invoice_lines (meta dagster.ref).
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_invoice_lines'}}}) }}
select 'invoice_line_items' as table_name, invoice_line_id as record_id, 'invoice_id' as foreign_key,
    invoice_id as missing_parent_id
from {{ ref('int_invoice_lines') }}
where is_orphan
union all
select 'refunds', refund_id, 'charge_id', charge_id
from {{ ref('int_refunds') }}
where is_orphan
