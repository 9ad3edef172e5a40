-- Every landed row of finance.operating_costs, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('finance', 'operating_costs', fx_rates=ref('stg_finance__fx_rates')) }}
