"""The nightly job and its schedule: the whole graph at 02:00 in the configured timezone."""

from __future__ import annotations

import dagster as dg

nightly_job = dg.define_asset_job(
    "nightly_warehouse",
    selection=dg.AssetSelection.all(),
    # DuckDB is a single-writer file: run the steps one after another in one process.
    executor_def=dg.in_process_executor,
)


def nightly_schedule(timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="nightly_warehouse_0200",
        job=nightly_job,
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
