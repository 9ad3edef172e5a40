-- Every landed row of crm.csat_responses, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'csat_responses') }}
