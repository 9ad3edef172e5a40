"""Dagster assets, by concern: loading (files -> raw), dbt (raw -> marts), analytics (Python marts)."""
