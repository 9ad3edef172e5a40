-- Every landed row of billing.prices, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'prices') }}
