-- Every landed row of crm.opportunities, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'opportunities', fx_rates=ref('stg_finance__fx_rates')) }}
