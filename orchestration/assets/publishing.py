"""Write-audit-publish as assets: `build_copy` first, `published_warehouse` last (see orchestration/publishing.py).

`published_warehouse` depends on every other asset, so it runs only when every step succeeded and
no blocking check failed; a failed run leaves the published warehouse as it was."""

import dagster as dg

from orchestration import build_state
from orchestration.publishing import prepare_build, prepare_build_schema, publish_build, publish_schema_swap
from orchestration.resources import WarehouseResource
from orchestration.run_lock import WarehouseBusyError, acquire_run_lock, release_run_lock

BUILD_COPY_KEY = dg.AssetKey(["publish", "build_copy"])
PUBLISHED_KEY = dg.AssetKey(["publish", "published_warehouse"])


@dg.asset(key=BUILD_COPY_KEY, group_name="publish",
          description="Starts a run: a private copy of the published DuckDB warehouse to build into "
                      "(PostgreSQL: the build schema marts__next).")
def build_copy(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    try:  # held until the run's process ends (or the publish step below); re-entrant for `make run`
        acquire_run_lock(settings)
    except WarehouseBusyError as exc:  # permanent for this run: retrying now would find it taken again
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    if settings.target != "duckdb":
        schema = prepare_build_schema(settings)
        return dg.MaterializeResult(metadata={"mode": "blue/green schemas (PostgreSQL)", "build_schema": schema})
    path = prepare_build(settings)
    return dg.MaterializeResult(metadata={"build_file": str(path), "copied_bytes": path.stat().st_size if path.exists() else 0})


def build_published_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=PUBLISHED_KEY, group_name="publish", deps=upstream,
              description="Ends a run: swaps the finished, fully checked build in for readers "
                          "(DuckDB: atomic file rename; PostgreSQL: schema swap in one transaction).")
    def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse.settings()
        # what this build was made from, so that a later run with nothing new can skip (build_state.py)
        with warehouse.connect() as wh:
            fingerprint = build_state.build_fingerprint(wh, settings)
            if settings.target == "duckdb":
                build_state.record_published(wh, fingerprint)  # in the build file, published with it
        if settings.target != "duckdb":
            swapped = publish_schema_swap(settings, in_swap=lambda cur: build_state.record_published(cur, fingerprint))
            release_run_lock(settings)
            return dg.MaterializeResult(metadata={"mode": "blue/green schemas (PostgreSQL)", **swapped})
        path = publish_build(settings)
        release_run_lock(settings)
        return dg.MaterializeResult(metadata={"published_file": str(path), "bytes": path.stat().st_size})

    return published_warehouse
