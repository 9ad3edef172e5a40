{#- Every raw table of the contract, as (source, table). Models that fan out over all tables
    (audit.quarantine, audit.reconciliation) need the list at parse time, when the graph is not
    yet readable; tests/test_contract.py checks it matches models/staging/_sources.yml. -#}
{% macro raw_tables() %}
    {{ return([
        ('crm', 'users'), ('crm', 'accounts'), ('crm', 'contacts'), ('crm', 'leads'),
        ('crm', 'opportunities'), ('crm', 'opportunity_history'), ('crm', 'activities'),
        ('crm', 'quotas'), ('crm', 'csat_responses'),
        ('billing', 'customers'), ('billing', 'products'), ('billing', 'prices'),
        ('billing', 'subscriptions'), ('billing', 'invoices'), ('billing', 'invoice_line_items'),
        ('billing', 'charges'), ('billing', 'refunds'),
        ('finance', 'marketing_spend'), ('finance', 'operating_costs'), ('finance', 'fx_rates'),
    ]) }}
{% endmacro %}
