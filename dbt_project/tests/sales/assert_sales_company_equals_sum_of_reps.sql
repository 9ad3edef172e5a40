-- kpis.md: kpi_sales_company_monthly holds the company totals of kpi_sales_rep_monthly. The company
-- mart is recomputed from the facts (for its medians), so check that the additive columns agree:
-- every fact owner resolves to a rep (relationships tests) and every rep has every month.
-- Reads several models: Dagster shows it as an asset check of kpi_sales_company_monthly (meta dagster.ref).
{{ config(meta={'dagster': {'ref': {'name': 'kpi_sales_company_monthly'}}}) }}
with

rep_totals as (
    select
        month,
        sum(bookings_usd) as bookings_usd,
        sum(quota_usd) as quota_usd,
        sum(deals_won) as deals_won,
        sum(deals_lost) as deals_lost
    from {{ ref('kpi_sales_rep_monthly') }}
    group by month
)

select
    company.month,
    company.bookings_usd,
    rep_totals.bookings_usd as rep_bookings_usd,
    company.quota_usd,
    rep_totals.quota_usd as rep_quota_usd,
    company.deals_won,
    rep_totals.deals_won as rep_deals_won,
    company.deals_lost,
    rep_totals.deals_lost as rep_deals_lost
from {{ ref('kpi_sales_company_monthly') }} as company
left join rep_totals
    on company.month = rep_totals.month
where rep_totals.month is null
    or company.bookings_usd <> rep_totals.bookings_usd
    or coalesce(company.quota_usd, -1) <> coalesce(rep_totals.quota_usd, -1)
    or company.deals_won <> rep_totals.deals_won
    or company.deals_lost <> rep_totals.deals_lost
