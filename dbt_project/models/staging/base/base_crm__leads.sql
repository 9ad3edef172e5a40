-- Every landed row of crm.leads, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'leads') }}
