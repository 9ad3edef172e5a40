-- Every landed row of crm.activities, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'activities') }}
