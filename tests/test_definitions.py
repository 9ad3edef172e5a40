"""The Dagster code location: loading assets for every raw table, dbt models as assets with their
tests as checks, Python marts downstream, one nightly job at 02:00 in the configured timezone."""

import os
import subprocess
from importlib.metadata import version

import dagster as dg
import pytest

from orchestration.loading.contract import load_contracts


@pytest.fixture(scope="module")
def defs(monkeypatch_module):
    monkeypatch_module.setenv("WAREHOUSE_SCHEDULE_TIMEZONE", "Europe/Berlin")
    from orchestration.definitions import build_definitions

    return build_definitions()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_raw_table_has_a_loading_asset_feeding_its_dbt_source(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for contract in load_contracts().values():
        key = f"{contract.source}/{contract.table}"
        assert key in keys
        base = dg.AssetKey(["staging", f"base_{contract.source}__{contract.table}"])
        assert dg.AssetKey([contract.source, contract.table]) in graph.get(base).parent_keys


def test_dbt_tests_are_asset_checks_and_python_marts_are_downstream(defs):
    graph = defs.resolve_asset_graph()
    checks = {c.name for c in graph.asset_check_keys}
    assert "accepted_values_reconciliation_is_reconciled__True" in checks
    # singular tests that read several models are checks of the mart they validate (meta dagster.ref)
    by_name = {c.name: c.asset_key for c in graph.asset_check_keys}
    assert by_name["assert_net_revenue_reconciles_to_staging"] == dg.AssetKey(["marts", "kpi_revenue"])
    assert by_name["assert_fct_mrr_sums_to_ending_mrr"] == dg.AssetKey(["marts", "kpi_mrr_monthly"])
    assert by_name["assert_sales_company_equals_sum_of_reps"] == dg.AssetKey(["marts", "kpi_sales_company_monthly"])
    assert {"customer_clv_is_sane", "cohort_retention_starts_at_one", "clv_fits_converged"} <= checks
    clv = graph.get(dg.AssetKey(["marts", "customer_clv"]))
    assert dg.AssetKey(["marts", "dim_customers"]) in clv.parent_keys
    # LTV:CAC and customer_clv share the formula CLV computed in dbt ...
    formula = dg.AssetKey(["intermediate", "int_customer_clv_formula"])
    assert formula in clv.parent_keys
    assert formula in graph.get(dg.AssetKey(["marts", "kpi_acquisition_monthly"])).parent_keys
    # ... so no dbt model waits for a Python asset and a run is a single dbt invocation
    python_marts = {dg.AssetKey(["marts", n]) for n in ("customer_clv", "clv_model_fits", "cohort_retention")}
    for key in graph.get_all_asset_keys() - {dg.AssetKey(["publish", "published_warehouse"])}:
        assert not python_marts & graph.get(key).parent_keys, key


def test_nightly_schedule_runs_the_whole_graph_at_two(defs):
    schedule = defs.resolve_schedule_def("nightly_warehouse_0200")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    job = defs.resolve_job_def("nightly_warehouse")
    assert job.executor_def.name == "in_process"


def test_dbt_resource_skips_the_version_subprocess_and_the_in_process_adapter(monkeypatch):
    from dagster_dbt import DbtCliResource
    from dagster_dbt.core import resource as dbt_resource_module

    from orchestration.resources import build_resources
    from orchestration.settings import Settings

    # the overridden members must still be DbtCliResource's, or the overrides are dead code
    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), f"dagster-dbt no longer has DbtCliResource.{name}"

    seen = {}
    monkeypatch.setattr(dbt_resource_module.DbtCliInvocation, "run",
                        classmethod(lambda cls, **kwargs: seen.update(kwargs) or "invocation"))
    for name in ("run", "check_output", "Popen"):
        monkeypatch.setattr(subprocess, name, lambda *a, **kw: pytest.fail(f"a subprocess was started: {a}"))
    dbt = build_resources(Settings.from_env())["dbt"]
    assert dbt.cli(["ls"]) == "invocation"
    assert seen["adapter"] is None
    assert str(seen["cli_version"]) == version("dbt-core")


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path):
    from orchestration.assets.dbt import prune_dbt_invocation_dirs

    folders = [tmp_path / f"warehouse_dbt_models-{i:02d}" for i in range(13)]
    for age, folder in enumerate(folders):  # folders[0] is the newest
        (folder / "compiled").mkdir(parents=True)
        os.utime(folder, (2_000_000_000 - age, 2_000_000_000 - age))
    (tmp_path / "partial_parse.msgpack").write_text("kept")
    (tmp_path / "other_op-1234").mkdir()
    pruned = prune_dbt_invocation_dirs(tmp_path, "warehouse_dbt_models", keep=10)
    assert sorted(pruned) == folders[10:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in folders[:10]] + ["partial_parse.msgpack", "other_op-1234"])
