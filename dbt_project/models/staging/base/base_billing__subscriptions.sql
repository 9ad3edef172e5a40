-- Every landed row of billing.subscriptions, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'subscriptions') }}
