-- Every landed row of finance.fx_rates, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('finance', 'fx_rates') }}
