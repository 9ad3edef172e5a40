"""Failed runs: permanent failures fail fast with a clear message, transient ones are retried."""

from __future__ import annotations

from conftest import base_settings
from landing_builder import VALID_LEAD, empty_landing, write_landing_file
from orchestration.assets.dbt import dbt_failure

LEAD = VALID_LEAD


def test_failing_checks_fail_without_retry_naming_check_and_rows():
    failure = dbt_failure({"results": [
        {"unique_id": "test.sales_kpi_warehouse.assert_mrr_movements_reconcile.1a2b", "status": "fail", "failures": 3},
        {"unique_id": "model.sales_kpi_warehouse.kpi_mrr_monthly", "status": "success"},
    ]})
    assert failure.allow_retries is False
    assert failure.description == ("Error-severity checks failed, nothing published: "
                                   "assert_mrr_movements_reconcile (3 failing rows)")


def test_dbt_errors_are_left_to_the_retry_policy():
    failure = dbt_failure({"results": [
        {"unique_id": "model.sales_kpi_warehouse.fct_mrr", "status": "error",
         "message": "server closed the connection unexpectedly"},
    ]})
    assert failure.allow_retries is True
    assert "fct_mrr: server closed the connection unexpectedly" in failure.description


def test_refused_file_fails_the_load_step_once_naming_file_and_columns(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    empty_landing(landing)
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], "2024-02-01T03:00:00+00:00",
                       columns=["id", "email", "_loaded_at"])
    settings = base_settings(tmp_path, landing)
    for key, value in settings.environ().items():
        monkeypatch.setenv(key, value)
    from orchestration.run import run_pipeline

    result = run_pipeline(settings, quiet=True)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["load_landed_files"]  # one step loads every table
    message = failures[0].event_specific_data.error.message
    assert "crm/leads/2024-02-01.csv: missing required columns: company, lead_source" in message
    # permanent: no retry was scheduled, and nothing after the loads ran (nothing was published)
    kinds = {e.event_type_value for e in result.all_events}
    assert "STEP_UP_FOR_RETRY" not in kinds and "STEP_RESTARTED" not in kinds
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert not [k for k in ran if k.startswith(("warehouse_dbt_models", "publish")) and k != "publish__build_copy"], ran
