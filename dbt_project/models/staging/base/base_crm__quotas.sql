-- Every landed row of crm.quotas, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'quotas', fx_rates=ref('stg_finance__fx_rates')) }}
