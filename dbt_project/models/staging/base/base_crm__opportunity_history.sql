-- Every landed row of crm.opportunity_history, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'opportunity_history') }}
