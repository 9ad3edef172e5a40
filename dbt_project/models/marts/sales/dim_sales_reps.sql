-- One row per CRM user (sales reps and managers). No email: PII stays in raw.
with

users as (
    select * from {{ ref('stg_crm__users') }}
),

managers as (
    select user_id, user_name from {{ ref('stg_crm__users') }}
)

select
    cast(users.user_id as {{ dbt.type_string() }}) as rep_id,
    cast(users.user_name as {{ dbt.type_string() }}) as name,
    cast(users.role as {{ dbt.type_string() }}) as role,
    cast(users.team as {{ dbt.type_string() }}) as team,
    cast(users.manager_id as {{ dbt.type_string() }}) as manager_id,
    cast(managers.user_name as {{ dbt.type_string() }}) as manager_name,
    cast(users.hired_at as date) as hired_at,
    cast(users.is_active as boolean) as is_active
from users
left join managers
    on users.manager_id = managers.user_id
