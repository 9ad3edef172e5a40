{#- Conversion to the reporting currency (USD) at the rate in force on the transaction date.
    Join int_fx_rate_ranges with fx_join(), then select to_usd(amount, fx_alias). -#}
{% macro fx_join(fx_alias, currency_expr, date_expr) -%}
    left join {{ ref('int_fx_rate_ranges') }} as {{ fx_alias }}
        on {{ fx_alias }}.currency = {{ currency_expr }}
        and cast({{ date_expr }} as date) >= {{ fx_alias }}.valid_from
        and cast({{ date_expr }} as date) < {{ fx_alias }}.valid_to
{%- endmacro %}

{% macro to_usd(amount_expr, fx_alias) -%}
    cast(round({{ amount_expr }} * {{ fx_alias }}.usd_per_unit, 2) as decimal(18, 2))
{%- endmacro %}
