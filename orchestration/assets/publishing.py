"""Write-audit-publish as assets: `build_copy` first, `published_warehouse` last (see orchestration/publishing.py).

`published_warehouse` depends on every other asset, so in a run of the whole graph it runs only when
every step succeeded and no blocking check failed; a failed run leaves the published warehouse as
it was. It also refuses to publish from a run that does not build and check the whole graph (a
subset materialized from the UI) or into whose build another run wrote (a failed run's build file
or schema, left for debugging): see `publish_refusal`."""

import dagster as dg

from orchestration import build_state
from orchestration.publishing import prepare_build, prepare_build_schema, publish_build, publish_schema_swap
from orchestration.resources import WarehouseResource
from orchestration.run_lock import release_run_lock

BUILD_COPY_KEY = dg.AssetKey(["publish", "build_copy"])
PUBLISHED_KEY = dg.AssetKey(["publish", "published_warehouse"])


def run_lineage(context: dg.AssetExecutionContext) -> str:
    """A run and its re-executions (Dagster's "re-execute from failure") share one build."""
    return context.run.root_run_id or context.run.run_id


@dg.asset(key=BUILD_COPY_KEY, group_name="publish",
          description="Starts a run: a private copy of the published DuckDB warehouse to build into "
                      "(PostgreSQL: the build schema marts__next).")
def build_copy(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.hold_run_lock()  # until the publish step below, or until the run's process ends
    if settings.target != "duckdb":
        schema = prepare_build_schema(settings)
        metadata = {"mode": "blue/green schemas (PostgreSQL)", "build_schema": schema}
    else:
        path = prepare_build(settings)
        metadata = {"build_file": str(path), "copied_bytes": path.stat().st_size if path.exists() else 0}
    build_state.record_build_started(settings, run_lineage(context))
    return dg.MaterializeResult(metadata=metadata)


def publish_refusal(*, lineage: str, build_lineage: str | None, selected_assets: set[dg.AssetKey],
                    selected_checks: set[dg.AssetCheckKey], required_assets: set[dg.AssetKey],
                    required_checks: set[dg.AssetCheckKey]) -> str | None:
    """Why this run must not publish its build, or None when it may.

    A build is published only by the run lineage that started it (build_copy) and only when that
    run selected every asset and every check of the graph. Otherwise a UI materialization of the
    publish asset alone would publish whatever build a failed run left behind (failed checks and
    all), and a subset run would publish marts that were not rebuilt from the raw data it loaded,
    and record them as up to date, so later runs with nothing new would skip the rebuild."""
    missing = sorted(k.to_user_string() for k in required_assets - selected_assets)
    missing += sorted(k.to_user_string() for k in required_checks - selected_checks)
    if missing:
        return (f"this run does not build and check the whole warehouse ({len(missing)} assets and checks not "
                f"selected, e.g. {', '.join(missing[:3])}); only a run of the whole graph (the nightly job, "
                "`make run`, or 'Materialize all' in the UI) publishes")
    if build_lineage != lineage:
        return (f"the build was started by run {build_lineage or '(none)'}, not by this run ({lineage}); it may be "
                "a failed run's build; start a new run of the whole graph")
    return None


def build_published_asset(upstream: list[dg.AssetKey], checks: set[dg.AssetCheckKey]) -> dg.AssetsDefinition:
    """`upstream`: every other asset of the graph; `checks`: every asset check of the graph."""
    required_assets = {*upstream, BUILD_COPY_KEY, PUBLISHED_KEY}

    @dg.asset(key=PUBLISHED_KEY, group_name="publish", deps=upstream,
              description="Ends a run: swaps the finished, fully checked build in for readers "
                          "(DuckDB: atomic file rename; PostgreSQL: schema swap in one transaction).")
    def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse.hold_run_lock()
        job_assets = context.job_def.asset_layer  # what this run's job (or UI subset) selected
        refusal = publish_refusal(
            lineage=run_lineage(context), build_lineage=build_state.build_lineage(settings),
            selected_assets=set(job_assets.selected_asset_keys),
            selected_checks=set(job_assets.asset_graph.asset_check_keys),
            required_assets=required_assets, required_checks=checks)
        if refusal:
            raise dg.Failure(description=f"Not published: {refusal}. The published warehouse is unchanged.",
                             allow_retries=False)
        with warehouse.connect() as wh:
            # what this build was made from, so that a later run with nothing new can skip (build_state.py)
            fingerprint = build_state.build_fingerprint(wh, settings)
            if settings.target == "duckdb":
                build_state.record_published(wh, fingerprint)  # in the build file, published with it
        if settings.target != "duckdb":
            swapped = publish_schema_swap(settings, in_swap=lambda cur: build_state.record_published(cur, fingerprint))
            release_run_lock(settings)
            return dg.MaterializeResult(metadata={"mode": "blue/green schemas (PostgreSQL)", **swapped})
        path = publish_build(settings)
        build_state.lineage_file(settings).unlink(missing_ok=True)  # no build in progress any more
        release_run_lock(settings)
        return dg.MaterializeResult(metadata={"published_file": str(path), "bytes": path.stat().st_size})

    return published_warehouse
