-- Every landed row of billing.refunds, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'refunds', fx_rates=ref('stg_finance__fx_rates')) }}
