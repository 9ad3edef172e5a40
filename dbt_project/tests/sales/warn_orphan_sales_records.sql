{{ config(severity='warn') }}
-- raw_sources.md: a sales record whose foreign key points to a record that is not staged is kept,
-- flagged (int_sales__orphans) and left out of every KPI until its parent lands. Warn-level: the
-- run goes on, reporting how many (record, foreign key) pairs are waiting for their parent.
select table_name, record_id, foreign_key, missing_parent_id
from {{ ref('int_sales__orphans') }}
