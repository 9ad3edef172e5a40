"""The Dagster instance `make run` writes (orchestration/instance.py): one engine per database file,
the same files Dagster's default SQLite storage reads."""

from __future__ import annotations

import shutil

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration import instance as instance_module
from orchestration.instance import INSTANCE_CONFIG, PooledSqliteEventLogStorage, ensure_instance_config


@dg.asset
def upstream() -> int:
    return 1


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="downstream")])
def downstream(upstream: int):
    yield dg.Output(upstream + 1)
    yield dg.AssetCheckResult(check_name="positive", passed=True)


def test_events_are_stored_through_one_engine_per_file_and_read_by_the_default_storage(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert ensure_instance_config(home)
    engines = []
    real_create_engine = instance_module.create_engine
    monkeypatch.setattr(instance_module, "create_engine",
                        lambda *a, **kw: engines.append(a[0]) or real_create_engine(*a, **kw))

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        runs = [dg.materialize([upstream, downstream], instance=instance) for _ in range(2)]
        assert all(r.success for r in runs)
        stored = {r.run_id: len(instance.all_logs(r.run_id)) for r in runs}
    # dozens of events, each stored in its run's file and many mirrored in the index: one engine
    # per file (the index, each run), where the default storage makes one per event
    assert min(stored.values()) > 20
    assert sorted(engines) == sorted({*engines}) and len(engines) == 3, engines

    # the default configuration reads what the pooled storage wrote
    plain_home = tmp_path / "plain_home"
    shutil.copytree(home, plain_home)
    (plain_home / "dagster.yaml").unlink()
    with dg.DagsterInstance.from_config(str(plain_home)) as plain:
        assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert {run_id: len(plain.all_logs(run_id)) for run_id in stored} == stored
        latest = plain.get_latest_materialization_event(dg.AssetKey("downstream"))
        assert latest is not None and latest.run_id == runs[-1].run_id
        check = plain.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("downstream"), "positive")])
        assert len(check) == 1


def test_an_existing_instance_config_is_left_alone(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert not ensure_instance_config(home)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    assert ensure_instance_config(tmp_path / "new_home")
    assert (tmp_path / "new_home" / "dagster.yaml").read_text() == INSTANCE_CONFIG


def test_engines_beyond_the_limit_are_disposed(tmp_path, monkeypatch):
    monkeypatch.setattr(instance_module, "MAX_OPEN_DATABASES", 2)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    for shard in ("a", "b", "c"):
        with storage.run_connection(shard):
            pass
    assert list(storage._engines) == ["b", "c"]
    storage.dispose()
    assert not storage._engines


def test_after_wipe_a_run_is_written_to_a_new_file_not_to_the_deleted_one(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    with storage.run_connection("some_run"):
        pass
    storage.wipe()
    assert not (tmp_path / "runs" / "some_run.db").exists()
    assert (tmp_path / "runs" / "index.db").exists()
    # a pooled connection kept across wipe() would still point at the deleted file
    with storage.run_connection("some_run") as conn:
        conn.exec_driver_sql("select count(*) from event_logs")
    assert (tmp_path / "runs" / "some_run.db").exists()


def test_a_table_found_once_is_not_looked_up_again(tmp_path, monkeypatch):
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    lookups = []
    parent_has_table = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table",
                        lambda self, name: lookups.append(name) or parent_has_table(self, name))
    assert all(storage.has_table("asset_check_executions") for _ in range(5))
    assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
    assert lookups == ["asset_check_executions", "no_such_table", "no_such_table"]
