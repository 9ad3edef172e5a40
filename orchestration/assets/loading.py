"""Loading assets: one asset per raw table, keyed like the dbt source it feeds ([source, table])."""


import dagster as dg

from orchestration.assets.publishing import BUILD_COPY_KEY
from orchestration.loading.contract import TableContract, load_contracts
from orchestration.loading.loader import LEDGER_TABLE, ensure_audit_schema, load_table
from orchestration.resources import WarehouseResource

LOAD_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)
LEDGER_KEY = dg.AssetKey(["audit", "load_ledger"])


def build_load_asset(contract: TableContract) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([contract.source, contract.table]),
        group_name=f"raw_{contract.source}",
        deps=[BUILD_COPY_KEY],
        retry_policy=LOAD_RETRY,
        kinds={"python"},
        description=f"Loads new landed files of {contract.key} into {contract.qualified_name} (each file once).",
    )
    def _load(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as wh:
            result = load_table(wh, warehouse.landing_dir, contract,
                                verify_unchanged=warehouse.settings().verify_landed_files)
            (total_rows,) = wh.fetchall(f"select count(*) from {contract.qualified_name}")[0]
        context.log.info(
            f"{contract.key}: {result.files_loaded} new files, {result.rows_loaded} rows, "
            f"{result.files_skipped} already loaded, {result.files_empty} empty, "
            f"{result.files_duplicate} duplicate, {len(result.errors)} refused"
        )
        if result.errors:
            # permanent: the same files would be refused again, so no retry (the good files are loaded)
            raise dg.Failure(description=f"{contract.key}: landed files refused:\n  " + "\n  ".join(result.errors),
                             metadata={"refused": result.errors}, allow_retries=False)
        return dg.MaterializeResult(
            metadata={
                "files_loaded": result.files_loaded,
                "rows_loaded": result.rows_loaded,
                "files_skipped": result.files_skipped,
                "files_empty": result.files_empty,
                "files_duplicate": result.files_duplicate,
                "raw_rows_total": total_rows,
            }
        )

    _load.__name__ = f"raw_{contract.source}__{contract.table}"
    return _load


table_load_assets = [build_load_asset(c) for c in load_contracts().values()]


# After every table's load, so that dbt reads the ledger (as_of, quarantined_at) in the same step
# as the raw tables: one dbt invocation before the Python marts instead of two.
@dg.asset(key=LEDGER_KEY, group_name="landing", deps=[key for a in table_load_assets for key in a.keys],
          description="The load ledger (audit.load_ledger): one row per landed file seen, after this run's loads.")
def load_ledger(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as wh:
        ensure_audit_schema(wh)
        outcomes = dict(wh.fetchall(f"select outcome, count(*) from {LEDGER_TABLE} group by outcome"))
    return dg.MaterializeResult(metadata={"ledger_rows": sum(outcomes.values()),
                                          **{f"ledger_{k}": v for k, v in sorted(outcomes.items())}})


load_assets = [*table_load_assets, load_ledger]
