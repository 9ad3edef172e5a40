"""Write-audit-publish as assets: `build_copy` first, `published_warehouse` last (see orchestration/publishing.py).

`published_warehouse` depends on every other asset, so it runs only when every step succeeded and
no blocking check failed; a failed run leaves the published warehouse as it was."""

import dagster as dg

from orchestration.publishing import prepare_build, publish_build
from orchestration.resources import WarehouseResource

BUILD_COPY_KEY = dg.AssetKey(["publish", "build_copy"])
PUBLISHED_KEY = dg.AssetKey(["publish", "published_warehouse"])


@dg.asset(key=BUILD_COPY_KEY, group_name="publish",
          description="Starts a run: a private copy of the published DuckDB warehouse to build into.")
def build_copy(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    if settings.target != "duckdb":
        return dg.MaterializeResult(metadata={"mode": "in place (PostgreSQL)"})
    path = prepare_build(settings)
    return dg.MaterializeResult(metadata={"build_file": str(path), "copied_bytes": path.stat().st_size if path.exists() else 0})


def build_published_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=PUBLISHED_KEY, group_name="publish", deps=upstream,
              description="Ends a run: swaps the finished, fully checked build in for readers (atomic rename).")
    def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse.settings()
        if settings.target != "duckdb":
            return dg.MaterializeResult(metadata={"mode": "in place (PostgreSQL)"})
        path = publish_build(settings)
        return dg.MaterializeResult(metadata={"published_file": str(path), "bytes": path.stat().st_size})

    return published_warehouse
