-- Rep quotas in USD, converted at the rate of their own period_month (kpis.md, Global rules).
-- Quotas of a rep who is not staged wait for the rep (raw_sources.md, orphans).
with

orphan_quota_owners as (
    {{ sales_orphan_ids('quotas') }}
),

quotas as (
    select staged_quotas.*
    from {{ ref('stg_crm__quotas') }} as staged_quotas
    left join orphan_quota_owners
        on staged_quotas.owner_id = orphan_quota_owners.record_id
    where orphan_quota_owners.record_id is null
)

select
    quotas.owner_id as rep_id,
    quotas.period_month as month,
    quotas.quota_amount,
    quotas.currency,
    {{ to_usd('quotas.quota_amount', 'fx') }} as quota_usd
from quotas
{{ fx_join('fx', 'quotas.currency', 'quotas.period_month') }}
