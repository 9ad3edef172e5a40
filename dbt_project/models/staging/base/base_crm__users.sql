-- Every landed row of crm.users, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'users') }}
