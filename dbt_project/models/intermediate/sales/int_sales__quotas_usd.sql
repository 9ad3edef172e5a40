-- Rep quotas in USD, converted at the rate of their own period_month (kpis.md, Global rules).
-- Quotas of a rep who is not staged wait for the rep (raw_sources.md, orphans).
with

quotas as (
    {{ sales_records_without_orphans('quotas', 'owner_id') }}
)

select
    quotas.owner_id as rep_id,
    quotas.period_month as month,
    quotas.quota_amount,
    quotas.currency,
    {{ to_usd('quotas.quota_amount', 'fx') }} as quota_usd
from quotas
{{ fx_join('fx', 'quotas.currency', 'quotas.period_month') }}
