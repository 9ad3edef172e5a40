-- Every landed row of crm.contacts, typed and labelled (current / superseded / soft_deleted / quarantined).
{{ validate_raw_rows('crm', 'contacts') }}
