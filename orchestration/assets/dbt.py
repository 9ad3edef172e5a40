"""dbt assets: every dbt model, with dbt tests surfacing as Dagster asset checks."""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

DBT_RETRY = dg.RetryPolicy(max_retries=1, delay=10)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups assets by dbt folder; maps the `analytics` source (Python-computed marts) to the
    keys of the Python assets that write them, so Dagster orders dbt -> Python -> dbt correctly."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "analytics":
            return dg.AssetKey(["marts", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return f"raw_{dbt_resource_props['source_name']}"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    translator = WarehouseDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        retry_policy=DBT_RETRY,
        name="warehouse_dbt_models",
    )
    def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        # Dagster runs this op in several steps (dbt -> Python marts -> dbt); "buildable" runs a test
        # in the step where all its parents are selected or already built upstream, never earlier.
        yield from dbt.cli(["build", "--indirect-selection", "buildable"], context=context).stream()

    return warehouse_dbt_models
