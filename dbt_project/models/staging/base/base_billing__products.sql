-- Every landed row of billing.products, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'products') }}
