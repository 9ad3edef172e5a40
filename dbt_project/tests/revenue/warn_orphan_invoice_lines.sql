{{ config(severity='warn') }}
-- raw_sources.md: an invoice line whose invoice is not in staging is kept, flagged is_orphan and
-- left out of every KPI until its invoice lands. Warn-level: the run goes on, reporting the count.
select invoice_line_id, invoice_id
from {{ ref('int_invoice_lines') }}
where is_orphan
