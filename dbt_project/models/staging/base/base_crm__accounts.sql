-- Every landed row of crm.accounts, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'accounts') }}
