-- Every landed row of finance.marketing_spend, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('finance', 'marketing_spend', fx_rates=ref('stg_finance__fx_rates')) }}
