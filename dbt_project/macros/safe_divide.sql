{#- safe_divide(numerator, denominator): numerator / denominator, or NULL when the denominator
    is NULL or 0 (kpis.md Global rules: a ratio over 0 or NULL is NULL, never 0 nor infinity).
    Both sides are cast to a wide decimal first, so integer counts never hit integer division
    (PostgreSQL truncates int / int) and money keeps its cents. The caller casts the result to
    the column's contract type (e.g. decimal(18,4) for a _rate, decimal(18,2) for money). -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
        else cast(({{ numerator }}) as decimal(38, 10)) / cast(({{ denominator }}) as decimal(38, 10))
    end
{%- endmacro %}
