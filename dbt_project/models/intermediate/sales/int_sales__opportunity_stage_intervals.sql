-- Stage history as intervals: one row per stage-history row of an opportunity, valid from its
-- changed_at until the opportunity's next history row (exclusive; NULL while it is the latest).
-- The opportunity is "in" stage_name at instant t when valid_from <= t < valid_to, so the stage at
-- the end of a day is the latest row with changed_at on or before that day's end (kpis.md,
-- kpi_pipeline_daily). Amount and probability are the row's own, falling back to the
-- opportunity's when the history leaves them NULL; USD at the opportunity's close_date rate,
-- like fct_opportunities.amount_usd. Reused by fct_opportunities (stage entry times), by
-- kpi_pipeline_daily and by kpi_sales_company_monthly (open opportunities at month start).
-- Incremental: a nightly run recomputes every interval of the opportunities whose row, history,
-- parents or FX rate changed (macros/incremental_facts.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='opportunity_id',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_rows('opportunity_id', stage_intervals_changed_keys()) }}"
) }}
with

-- an orphan opportunity (its account or owner is not staged) waits for its parent
opportunities as (
    select * from ({{ sales_records_without_orphans('opportunities', 'opportunity_id') }}) as opportunities
    {%- if is_incremental() %}
    where opportunity_id in ({{ changed_keys() }})
    {%- endif %}
),

opportunity_history as (
    select * from {{ ref('stg_crm__opportunity_history') }}
),

history_with_fallbacks as (
    select
        opportunity_history.opportunity_history_id,
        opportunity_history.opportunity_id,
        opportunity_history.stage_name,
        {{ sales_stage_order('opportunity_history.stage_name') }} as stage_order,
        opportunity_history.changed_at,
        coalesce(opportunity_history.amount, opportunities.amount) as amount,
        coalesce(opportunity_history.probability, opportunities.probability) as probability,
        opportunities.currency,
        opportunities.close_date
    from opportunity_history
    -- history of an opportunity that is not staged (an orphan history row) or is an orphan
    -- itself has nothing to report against: both wait
    inner join opportunities
        on opportunity_history.opportunity_id = opportunities.opportunity_id
),

intervals as (
    select
        *,
        -- same-instant rows: the later funnel stage (closed_lost last) wins, then the later id,
        -- so the earlier of the tied rows becomes an empty interval
        lead(changed_at) over (
            partition by opportunity_id
            order by changed_at, coalesce(stage_order, 7), opportunity_history_id
        ) as valid_to,
        row_number() over (
            partition by opportunity_id
            order by changed_at desc, coalesce(stage_order, 7) desc, opportunity_history_id desc
        ) = 1 as is_latest
    from history_with_fallbacks
),

converted as (
    select
        intervals.*,
        {{ to_usd('intervals.amount', 'fx') }} as amount_usd
    from intervals
    {{ fx_join('fx', 'intervals.currency', 'intervals.close_date') }}
)

select
    opportunity_history_id,
    opportunity_id,
    stage_name,
    stage_order,
    {{ sales_is_open_stage('stage_name') }} as is_open_stage,
    changed_at as valid_from,
    valid_to,
    is_latest,
    amount,
    probability,
    currency,
    amount_usd,
    -- exact decimal product (multiply by 0.01, never divide; scale 2 + 2 + 2 = 6 fits exactly);
    -- rounded to cents only after summing in the mart
    cast(cast(amount_usd as decimal(38, 2)) * probability * 0.01 as decimal(38, 6)) as weighted_amount_usd,
    {{ batch_marker() }} as _batch_at
from converted
