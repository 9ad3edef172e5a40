{#- Fails with every row for which `expression` is not true. -#}
{% test expression_is_true(model, expression, where=none) %}
select * from {{ model }}
where not coalesce(({{ expression }}), false)
{% if where %} and ({{ where }}){% endif %}
{% endtest %}
