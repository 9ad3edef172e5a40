"""dbt assets: every dbt model, with dbt tests surfacing as Dagster asset checks."""


import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration import build_state
from orchestration.resources import WarehouseResource

DBT_RETRY = dg.RetryPolicy(max_retries=1, delay=10)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups assets by dbt folder; maps the `analytics` source (Python-computed marts) to the
    keys of the Python assets that write them, so a model reading one would run after it. None does
    today (tests/test_definitions.py): the dbt models run in one step, then the Python marts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "analytics":
            return dg.AssetKey(["marts", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return f"raw_{dbt_resource_props['source_name']}"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


def nothing_changed_since_last_publish(warehouse: WarehouseResource) -> bool:
    """See orchestration/build_state.py. A full refresh (DBT_FULL_REFRESH) always builds."""
    if os.environ.get("DBT_FULL_REFRESH", "").lower() in ("1", "true", "yes"):
        return False
    settings = warehouse.settings()
    with warehouse.connect() as wh:
        return build_state.last_published_fingerprint(wh) == build_state.build_fingerprint(wh, settings)


def dbt_failure(run_results: Mapping[str, Any]) -> dg.Failure:
    """A failed dbt build as a Dagster failure that names what failed.

    Failing checks (tests with status fail: the data is wrong) are permanent: retrying rebuilds the
    same data, so the run fails at once. Errors (a lost connection, a locked file) may be transient
    and are left to the retry policy."""
    failed_checks = [f"{r['unique_id'].split('.')[2]} ({r.get('failures') or 0} failing rows)"
                     for r in run_results.get("results", []) if r["status"] == "fail"]
    errors = [f"{r['unique_id'].split('.', 2)[2]}: {(r.get('message') or '').strip()[:300]}"
              for r in run_results.get("results", []) if r["status"] == "error"]
    if failed_checks and not errors:
        return dg.Failure(description="Error-severity checks failed, nothing published: " + "; ".join(failed_checks),
                          metadata={"failed_checks": failed_checks}, allow_retries=False)
    return dg.Failure(description="dbt build failed: " + "; ".join(errors + failed_checks),
                      metadata={"errors": errors, "failed_checks": failed_checks}, allow_retries=True)


# dagster-dbt gives every dbt invocation its own folder under dbt_project/target (manifest, run
# results, compiled SQL, dbt.log: ~6 MB at the benchmark's scale) and never removes one; a year of
# nightly runs would leave ~2 GB. The newest are kept for debugging a recent run.
KEEP_DBT_INVOCATION_DIRS = 10


def prune_dbt_invocation_dirs(target_dir: Path, prefix: str, keep: int = KEEP_DBT_INVOCATION_DIRS) -> list[Path]:
    """Delete all but the `keep` newest `<prefix>-*` invocation folders; returns the deleted ones."""
    dirs = sorted((p for p in target_dir.glob(f"{prefix}-*") if p.is_dir()),
                  key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in dirs[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return dirs[keep:]


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    translator = WarehouseDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        retry_policy=DBT_RETRY,
        name="warehouse_dbt_models",
    )
    def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        warehouse.hold_run_lock()
        if nothing_changed_since_last_publish(warehouse):
            # yields no materialization: the Python marts and the publish step are skipped with it
            context.log.info("No new landed file and no code change since the last published build: "
                             "the published warehouse is already this build; dbt build skipped.")
            return
        # One step, one dbt invocation (no model reads a Python mart). Were Dagster to split the op
        # around a Python asset, "buildable" runs each test in the step where its parents are built.
        # Unit tests check the SQL, not the night's data: they run in `make test` (tests/test_pipeline.py),
        # not in every production build (dbt's own advice).
        invocation = dbt.cli(["build", "--indirect-selection", "buildable", "--exclude-resource-type", "unit_test"],
                             context=context, raise_on_error=False)
        try:
            yield from invocation.stream()
            if not invocation.is_successful():
                raise dbt_failure(invocation.get_artifact("run_results.json"))
        finally:
            pruned = prune_dbt_invocation_dirs(invocation.target_path.parent, context.op_execution_context.op.name)
            if pruned:
                context.log.info(f"Removed {len(pruned)} old dbt invocation folder(s) under {invocation.target_path.parent}")

    return warehouse_dbt_models
