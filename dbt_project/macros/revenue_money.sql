{#- The acquisition channels of kpi_acquisition_monthly: the lead_source values of the landing
    contract (crm.leads.lead_source in models/staging/_sources.yml) plus 'unknown'. Written out here
    because the parsed graph is not readable in unit tests; tests/revenue/assert_acquisition_all_row_totals
    fails if a spend or customer channel is ever missing from this list. -#}
{% macro revenue_acquisition_channels() %}
    {{ return(['paid_search', 'paid_social', 'organic_search', 'email', 'referral', 'events', 'outbound', 'unknown']) }}
{% endmacro %}
