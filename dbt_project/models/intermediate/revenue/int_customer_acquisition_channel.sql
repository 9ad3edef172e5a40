-- Acquisition channel of every billing customer (kpis.md, Global rules): the lead_source of the
-- CRM lead that converted into its account (earliest converted_at); else that of the account's
-- earliest won new_business opportunity (by close_date, then created_at); else 'unknown'.
-- A customer whose crm_account_id matches no CRM account gets crm_account_id NULL and 'unknown'.
-- Orphan leads and opportunities (int_sales__orphans: a parent not staged yet) pick no channel
-- until their parent lands, as they count in no other KPI (raw_sources.md, bad input).
with

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

leads as (
    {{ sales_records_without_orphans('leads', 'lead_id') }}
),

opportunities as (
    {{ sales_records_without_orphans('opportunities', 'opportunity_id') }}
),

converted_leads_ranked as (
    select
        converted_account_id as account_id,
        lead_source,
        row_number() over (
            partition by converted_account_id
            -- lead_id only breaks exact ties, so the choice is deterministic
            order by converted_at, lead_id
        ) as conversion_rank
    from leads
    where is_converted
        and converted_account_id is not null
        and converted_at is not null
),

first_converted_lead as (
    select account_id, lead_source
    from converted_leads_ranked
    where conversion_rank = 1
),

won_new_business_ranked as (
    select
        account_id,
        lead_source,
        row_number() over (
            partition by account_id
            order by close_date, created_at, opportunity_id
        ) as won_rank
    from opportunities
    where opportunity_type = 'new_business'
        and is_won
        and account_id is not null
),

first_won_new_business as (
    select account_id, lead_source
    from won_new_business_ranked
    where won_rank = 1
)

select
    customers.customer_id,
    accounts.account_id as crm_account_id,
    coalesce(first_converted_lead.lead_source, first_won_new_business.lead_source, 'unknown') as acquisition_channel,
    case
        when first_converted_lead.lead_source is not null then 'converted_lead'
        when first_won_new_business.lead_source is not null then 'won_new_business_opportunity'
        else 'none'
    end as acquisition_channel_basis
from customers
left join accounts
    on customers.crm_account_id = accounts.account_id
left join first_converted_lead
    on accounts.account_id = first_converted_lead.account_id
left join first_won_new_business
    on accounts.account_id = first_won_new_business.account_id
