-- Every landed row of billing.customers, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'customers') }}
