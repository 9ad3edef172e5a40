-- kpi_funnel_monthly: the `all` row of a month counts every lead and opportunity of the month, so its
-- counts equal the sum of the lead_source rows (ratios and medians are recomputed, not summed).
with

source_totals as (
    select
        month,
        sum(new_leads) as new_leads,
        sum(converted_leads) as converted_leads,
        sum(leads_to_customer) as leads_to_customer,
        sum(opportunities_created) as opportunities_created
    from {{ ref('kpi_funnel_monthly') }}
    where lead_source <> 'all'
    group by month
)

select all_rows.month
from {{ ref('kpi_funnel_monthly') }} as all_rows
left join source_totals
    on all_rows.month = source_totals.month
where all_rows.lead_source = 'all'
    and (
        source_totals.month is null
        or all_rows.new_leads <> source_totals.new_leads
        or all_rows.converted_leads <> source_totals.converted_leads
        or all_rows.leads_to_customer <> source_totals.leads_to_customer
        or all_rows.opportunities_created <> source_totals.opportunities_created
    )
