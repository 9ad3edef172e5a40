-- Every landed row of billing.invoices, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('billing', 'invoices', fx_rates=ref('stg_finance__fx_rates')) }}
