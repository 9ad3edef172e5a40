"""One run at a time per warehouse (orchestration/run_lock.py): a second run stops before changing
anything, names the run that holds the lock, and can run once that run has ended."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import dagster as dg
import pytest

from orchestration import run_lock
from orchestration.assets.publishing import build_copy
from orchestration.resources import WarehouseResource
from orchestration.settings import PROJECT_ROOT, Settings

HOLD = ("import sys; from orchestration.settings import Settings; from orchestration.run_lock import acquire_run_lock; "
        "acquire_run_lock(Settings.from_env()); print('held', flush=True); sys.stdin.read()")
TRY = ("import sys; from orchestration.settings import Settings; from orchestration.run_lock import *\n"
       "try:\n    acquire_run_lock(Settings.from_env()); print('acquired')\n"
       "except WarehouseBusyError as exc:\n    print('busy:', exc)")


def child_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.environ()}


def try_in_other_process(settings: Settings) -> str:
    return subprocess.run([sys.executable, "-c", TRY], env=child_env(settings), cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True, timeout=120).stdout.strip()


@pytest.fixture
def duckdb_settings(tmp_path) -> Settings:
    return replace(Settings.from_env(), target="duckdb", duckdb_path=tmp_path / "warehouse" / "warehouse.duckdb")


@pytest.fixture
def postgres_settings(pg_database) -> Settings:  # pg_database skips, or fails under CI, without a server
    return replace(Settings.from_env(), target="postgres", pg_database=pg_database)


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_second_run_is_refused_while_the_lock_is_held_then_admitted(target, request):
    settings = request.getfixturevalue(f"{target}_settings")
    with run_lock.run_lock(settings):
        run_lock.acquire_run_lock(settings)  # re-entrant in the holding process
        refused = try_in_other_process(settings)
        assert refused.startswith("busy: another run is building this warehouse"), refused
        assert f"pid {os.getpid()}" in refused  # names the holder
    assert run_lock.lock_name(settings) not in run_lock._held
    assert try_in_other_process(settings) == "acquired"  # released with the block


def test_lock_of_a_killed_holder_is_released(duckdb_settings):
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=child_env(duckdb_settings), cwd=PROJECT_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(run_lock.WarehouseBusyError, match=f"pid {holder.pid}"):
            run_lock.acquire_run_lock(duckdb_settings)
    finally:
        holder.kill()
        holder.wait()
    run_lock.acquire_run_lock(duckdb_settings)  # the kernel released the dead holder's lock
    run_lock.release_run_lock(duckdb_settings)


def test_build_copy_step_fails_without_touching_the_warehouse_when_busy(duckdb_settings, monkeypatch):
    published = duckdb_settings.duckdb_path
    published.parent.mkdir(parents=True)
    published.write_bytes(b"the published build")
    monkeypatch.setattr(os, "environ", child_env(duckdb_settings))  # WarehouseResource reads the environment
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=child_env(duckdb_settings), cwd=PROJECT_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = dg.materialize([build_copy], resources={"warehouse": WarehouseResource()}, raise_on_error=False)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "another run is building this warehouse" in failure.event_specific_data.error.message
    assert published.read_bytes() == b"the published build"
    assert not duckdb_settings.duckdb_build_path.exists()


@pytest.mark.parametrize("step_asset", [["crm", "leads"], ["marts", "fct_mrr"], ["marts", "cohort_retention"],
                                        ["publish", "published_warehouse"]])
def test_a_subset_run_without_the_build_copy_is_refused_too(step_asset, duckdb_settings, monkeypatch):
    """A run started from the UI for a few assets (no build_copy step) would otherwise write into
    the build of the run in progress: every writing step takes the lock first."""
    from orchestration.definitions import build_definitions

    monkeypatch.setattr(os, "environ", child_env(duckdb_settings))
    job = build_definitions(duckdb_settings).resolve_job_def("nightly_warehouse").get_subset(
        asset_selection={dg.AssetKey(step_asset)})
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=child_env(duckdb_settings), cwd=PROJECT_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1, [e.step_key for e in failures]  # failed once: no retry
    assert "another run is building this warehouse" in failures[0].event_specific_data.error.message
    assert not duckdb_settings.duckdb_build_path.exists() and not duckdb_settings.duckdb_path.exists()


def test_make_run_exits_busy_before_changing_anything(duckdb_settings, tmp_path):
    published = duckdb_settings.duckdb_path
    published.parent.mkdir(parents=True)
    published.write_bytes(b"the published build")
    with run_lock.run_lock(duckdb_settings):
        proc = subprocess.run([sys.executable, "-m", "orchestration.run"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=600,
                              env={**child_env(duckdb_settings), "DAGSTER_HOME": str(tmp_path / "dagster_home")})
    assert proc.returncode == run_lock.EXIT_BUSY, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "not started: another run is building this warehouse" in proc.stderr
    assert published.read_bytes() == b"the published build"
    build = duckdb_settings.duckdb_build_path
    assert not build.exists() and not build.with_name(build.name + ".early").exists()
