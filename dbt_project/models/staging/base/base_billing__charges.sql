-- Every landed row of billing.charges, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'charges', fx_rates=ref('stg_finance__fx_rates')) }}
