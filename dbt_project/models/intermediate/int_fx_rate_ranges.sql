-- FX rates as validity ranges: a rate holds from its rate_date until the next rate of the same
-- currency, so a date with no rate uses the latest earlier one (raw_sources.md, fx_rates).
-- The reporting currency converts at 1. Dates before a currency's first rate match nothing
-- (those rows are already quarantined as missing_fx_rate).
with

rates as (
    select * from {{ ref('stg_finance__fx_rates') }}
),

ranged as (
    select
        currency,
        rate_date as valid_from,
        coalesce(
            lead(rate_date) over (partition by currency order by rate_date),
            cast('9999-12-31' as date)
        ) as valid_to,
        usd_per_unit
    from rates
    where currency <> '{{ var("reporting_currency") }}'
),

reporting_currency as (
    select
        '{{ var("reporting_currency") }}' as currency,
        cast('1900-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to,
        cast(1 as decimal(18, 8)) as usd_per_unit
)

select * from ranged
union all
select * from reporting_currency
