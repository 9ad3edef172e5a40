"""Loading assets: one asset per raw table, keyed like the dbt source it feeds ([source, table]),
plus the load ledger. All are outputs of ONE multi-asset step: a DuckDB file has one writer anyway,
and with the ledger in the same step as the raw tables Dagster runs every dbt model that reads them
in a single dbt invocation (the dbt step is split only around the Python marts)."""


import dagster as dg

from orchestration.assets.publishing import BUILD_COPY_KEY
from orchestration.loading.contract import TableContract, load_contracts
from orchestration.loading.loader import LEDGER_TABLE, TableLoadResult, ensure_audit_schema, load_table
from orchestration.resources import WarehouseResource

LOAD_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)
LEDGER_KEY = dg.AssetKey(["audit", "load_ledger"])
CONTRACTS: dict[dg.AssetKey, TableContract] = {dg.AssetKey([c.source, c.table]): c for c in load_contracts().values()}


def table_spec(contract: TableContract) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=dg.AssetKey([contract.source, contract.table]),
        group_name=f"raw_{contract.source}",
        deps=[BUILD_COPY_KEY],
        kinds={"python"},
        description=f"Loads new landed files of {contract.key} into {contract.qualified_name} (each file once).",
    )


LEDGER_SPEC = dg.AssetSpec(
    key=LEDGER_KEY, group_name="landing", deps=list(CONTRACTS),
    description="The load ledger (audit.load_ledger): one row per landed file seen, after this run's loads.")


def load_metadata(result: TableLoadResult, total_rows: int) -> dict[str, int]:
    return {
        "files_loaded": result.files_loaded,
        "rows_loaded": result.rows_loaded,
        "files_skipped": result.files_skipped,
        "files_empty": result.files_empty,
        "files_duplicate": result.files_duplicate,
        "raw_rows_total": total_rows,
    }


@dg.multi_asset(
    name="load_landed_files",
    specs=[*(table_spec(c) for c in CONTRACTS.values()), LEDGER_SPEC],
    can_subset=True,
    retry_policy=LOAD_RETRY,
)
def load_landed_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Loads every selected table (each file once, through the ledger), then reports the ledger.
    Refused files fail the step after every table was loaded: the good files are in."""
    warehouse.hold_run_lock()
    refused: list[str] = []
    selected = [key for key in CONTRACTS if key in context.selected_asset_keys]
    with warehouse.connect() as wh:
        for position, key in enumerate(selected, start=1):
            contract = CONTRACTS[key]
            result = load_table(wh, warehouse.landing_dir, contract,
                                verify_unchanged=warehouse.settings().verify_landed_files)
            (total_rows,) = wh.fetchall(f"select count(*) from {contract.qualified_name}")[0]
            context.log.info(
                f"[{position}/{len(selected)}] {contract.key}: {result.files_loaded} new files, "
                f"{result.rows_loaded} rows, {result.files_skipped} already loaded, {result.files_empty} empty, "
                f"{result.files_duplicate} duplicate, {len(result.errors)} refused"
            )
            refused.extend(result.errors)
            if not result.errors:
                yield dg.MaterializeResult(asset_key=key, metadata=load_metadata(result, total_rows))
        if refused:
            # permanent: the same files would be refused again, so no retry (the good files are loaded)
            raise dg.Failure(description="landed files refused:\n  " + "\n  ".join(refused),
                             metadata={"refused": refused}, allow_retries=False)
        if LEDGER_KEY in context.selected_asset_keys:
            ensure_audit_schema(wh)
            outcomes = dict(wh.fetchall(f"select outcome, count(*) from {LEDGER_TABLE} group by outcome"))
            yield dg.MaterializeResult(asset_key=LEDGER_KEY, metadata={
                "ledger_rows": sum(outcomes.values()), **{f"ledger_{k}": v for k, v in sorted(outcomes.items())}})


load_assets = [load_landed_files]
