-- Every landed row of billing.invoice_line_items, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'invoice_line_items') }}
