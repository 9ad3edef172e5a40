"""Dagster Definitions: landing files -> raw tables -> dbt (staging, marts, checks) -> Python marts.

Open it in the UI with `dagster dev` (see README).
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.analytics import build_analytics_assets
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.loading import load_assets
from orchestration.assets.publishing import build_copy, build_published_asset
from orchestration.resources import build_resources, dbt_project_for
from orchestration.schedules import nightly_job, nightly_schedule
from orchestration.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    project = dbt_project_for(settings)
    dbt_models = build_dbt_assets(project)
    analytics_assets, analytics_checks = build_analytics_assets(dbt_models)
    built = [*load_assets, dbt_models, *analytics_assets]
    checks = {key for assets_def in [*built, *analytics_checks] for key in assets_def.check_keys}
    publish = build_published_asset([key for assets_def in built for key in assets_def.keys], checks)
    return dg.Definitions(
        assets=[build_copy, *built, publish],
        asset_checks=analytics_checks,
        jobs=[nightly_job],
        schedules=[nightly_schedule(settings.schedule_timezone)],
        resources=build_resources(settings),
        # runs started from the UI for some assets too: one process, steps one after another (a DuckDB
        # file has one writer; the run lock is held by the run's process, orchestration/run_lock.py)
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location `dagster dev` loads; lazy, so importing build_definitions (make run, the
    tests) does not build the graph from the dbt manifest a second time."""
    return build_definitions()
