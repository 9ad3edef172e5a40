"""Write-audit-publish on DuckDB (published file) and PostgreSQL (blue/green schemas): readers are
never locked out and never see a mix of two builds; a run that fails a check or is killed mid-way
leaves the published marts intact and the next run completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from orchestration.generate import main as generate
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow
GEN = ["--customers", "60", "--start", "2024-01-01", "--months", "6", "--dirty-rate", "0.01", "--seed", "11"]
PROBE = ("select (select count(*) from marts.fct_invoice_lines), (select sum(net_revenue_usd) from marts.kpi_revenue "
         "where period_type = 'month'), (select max(date_day) from marts.dim_date), "
         "(select count(*) from audit.load_ledger)")


def start_run(settings: Settings, tmp: Path, log_name: str = "run.log") -> subprocess.Popen:
    """The `make run` code path in a child process; its output goes to a file (a pipe nobody reads
    would fill up and stall the child)."""
    env = {**os.environ, **settings.environ(), "DAGSTER_HOME": str(tmp / "dagster_home")}
    log = open(tmp / log_name, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.run"], env=env, cwd=PROJECT_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    proc.log_path = tmp / log_name  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    proc.wait(timeout=timeout)
    return proc.log_path.read_text()


def probe(path: Path) -> tuple:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(PROBE).fetchone()


@pytest.fixture
def published(tmp_path):
    """A published warehouse built from a small generated landing, and one more day landed after it."""
    landing = tmp_path / "landing"
    generate(["--out", str(landing), *GEN])
    settings = replace(Settings.from_env(), landing_dir=landing, target="duckdb",
                       duckdb_path=tmp_path / "published" / "warehouse.duckdb")
    first = start_run(settings, tmp_path, "first.log")
    out = finish(first)
    assert first.returncode == 0, out[-4000:]
    before = probe(settings.duckdb_path)
    generate(["--out", str(landing), *GEN, "--extra-day"])
    return settings, before


def test_readers_see_one_published_build_at_a_time(published, tmp_path):
    settings, before = published
    run = start_run(settings, tmp_path, "second.log")
    answers, errors = set(), []
    while run.poll() is None:
        try:
            answers.add(probe(settings.duckdb_path))
        except Exception as exc:  # noqa: BLE001 - any failure to read is what this test forbids
            errors.append(repr(exc))
        time.sleep(0.05)
    out = finish(run)
    assert run.returncode == 0, out[-4000:]
    after = probe(settings.duckdb_path)
    assert errors == []
    assert after != before  # the new day was published
    assert answers <= {before, after}, answers  # never a half-published mix
    assert before in answers


def test_killed_run_leaves_published_intact_and_next_run_completes(published, tmp_path):
    settings, before = published
    run = start_run(settings, tmp_path, "killed.log")
    # kill it once dbt is building (the build copy exists and dbt has started writing)
    deadline = time.time() + 300
    while "Running dbt command" not in run.log_path.read_text() and time.time() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be killed"
    time.sleep(2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert probe(settings.duckdb_path) == before  # published marts untouched and readable
    rerun = start_run(settings, tmp_path, "rerun.log")
    out = finish(rerun)
    assert rerun.returncode == 0, out[-4000:]
    assert probe(settings.duckdb_path) != before


def test_publishing_alone_refuses_a_failed_runs_build(published, tmp_path, monkeypatch):
    """The publish asset materialized on its own (a click in the UI after a failed run) must not
    publish the build that run left behind, nor record it as up to date."""
    import dagster as dg

    from orchestration.assets.publishing import PUBLISHED_KEY
    from orchestration.definitions import build_definitions

    settings, before = published
    # what a run whose checks failed leaves: its build file, here with a mart emptied
    settings.duckdb_build_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.duckdb_path, settings.duckdb_build_path)
    with duckdb.connect(str(settings.duckdb_build_path)) as con:
        con.execute("delete from marts.fct_invoice_lines")
    for name, value in settings.environ().items():
        monkeypatch.setenv(name, value)
    job = build_definitions(settings).resolve_job_def("nightly_warehouse").get_subset(asset_selection={PUBLISHED_KEY})
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(ev for ev in result.all_events if ev.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "Not published: this run does not build and check the whole warehouse" in message, message
    assert probe(settings.duckdb_path) == before  # readers still see the last good build


def nightly_job_from_environment():
    """For dagster.reconstructable: the nightly job of the settings in the environment."""
    from orchestration.definitions import build_definitions

    return build_definitions().resolve_job_def("nightly_warehouse")


def fail_a_run_in_its_python_marts(settings: Settings, monkeypatch, instance):
    """Run the nightly job with cohort retention broken; returns the failed run and the way to mend it."""
    import dagster as dg

    import orchestration.assets.analytics as analytics_assets

    for name, value in settings.environ().items():
        monkeypatch.setenv(name, value)
    working = analytics_assets.cohort_retention

    def broken(*args, **kwargs):
        raise RuntimeError("cohort retention failed (provoked by the test)")

    monkeypatch.setattr(analytics_assets, "cohort_retention", broken)
    failed = dg.execute_job(dg.reconstructable(nightly_job_from_environment), instance=instance, raise_on_error=False)
    assert not failed.success
    return failed, lambda: monkeypatch.setattr(analytics_assets, "cohort_retention", working)


def reexecute_from_failure(failed, instance):
    import dagster as dg

    return dg.execute_job(dg.reconstructable(nightly_job_from_environment), instance=instance, raise_on_error=False,
                          reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance))


def test_reexecution_from_failure_publishes_the_failed_runs_build(published, monkeypatch):
    """Re-executing a failed run from its failure (UI: "Re-execute from failure") continues that
    run's build and publishes it: the run-lineage check lets a re-execution through."""
    import dagster as dg

    settings, before = published
    with dg.instance_for_test() as instance:
        failed, mend = fail_a_run_in_its_python_marts(settings, monkeypatch, instance)
        assert probe(settings.duckdb_path) == before
        mend()
        rerun = reexecute_from_failure(failed, instance)
        assert rerun.success
        ran = {ev.step_key for ev in rerun.all_events if ev.event_type_value == "STEP_SUCCESS"}
        assert "publish__published_warehouse" in ran and "warehouse_dbt_models" not in ran, ran
    assert probe(settings.duckdb_path) != before  # the new day, built by the failed run, is published


def test_reexecution_does_not_publish_a_build_another_run_started(published, monkeypatch):
    """After a failed run, another run started a build (here: the build copy alone, from the UI);
    re-executing the failed run must not publish that build as its own."""
    import dagster as dg

    from orchestration.assets.publishing import BUILD_COPY_KEY
    from orchestration.definitions import build_definitions

    settings, before = published
    with dg.instance_for_test() as instance:
        failed, mend = fail_a_run_in_its_python_marts(settings, monkeypatch, instance)
        mend()
        other = build_definitions(settings).resolve_job_def("nightly_warehouse").get_subset(
            asset_selection={BUILD_COPY_KEY}).execute_in_process(instance=instance)
        assert other.success
        rerun = reexecute_from_failure(failed, instance)
        assert not rerun.success
        failure = next(ev for ev in rerun.all_events if ev.event_type_value == "STEP_FAILURE")
        message = failure.event_specific_data.error.message
        assert f"the build was started by run {other.run_id}, not by this run ({failed.run_id})" in message, message
    assert probe(settings.duckdb_path) == before


def test_publish_refusal_names_what_is_missing_or_whose_build_it_is():
    import dagster as dg

    from orchestration.assets.publishing import BUILD_COPY_KEY, PUBLISHED_KEY, publish_refusal

    mart, check = dg.AssetKey(["marts", "kpi_revenue"]), dg.AssetCheckKey(dg.AssetKey(["marts", "kpi_revenue"]), "c")
    whole = {"selected_assets": {mart, BUILD_COPY_KEY, PUBLISHED_KEY}, "selected_checks": {check},
             "required_assets": {mart, BUILD_COPY_KEY, PUBLISHED_KEY}, "required_checks": {check}}
    assert publish_refusal(lineage="run-1", build_lineage="run-1", **whole) is None
    # a re-execution of run-1 (same root run) continues run-1's build; another run's build is refused
    assert "started by run run-0, not by this run (run-1)" in publish_refusal(
        lineage="run-1", build_lineage="run-0", **whole)
    assert "started by run (none)" in publish_refusal(lineage="run-1", build_lineage=None, **whole)
    # a subset: without the build copy, without a mart, or without one of the checks
    for missing, name in ((BUILD_COPY_KEY, "publish/build_copy"), (mart, "marts/kpi_revenue")):
        reason = publish_refusal(lineage="run-1", build_lineage="run-1",
                                 **{**whole, "selected_assets": whole["selected_assets"] - {missing}})
        assert "does not build and check the whole warehouse (1 assets and checks not selected" in reason
        assert name in reason
    reason = publish_refusal(lineage="run-1", build_lineage="run-1", **{**whole, "selected_checks": set()})
    assert "marts/kpi_revenue:c" in reason


# ----------------------------------------------------------------------------------- PostgreSQL
# Blue/green schemas (orchestration/publishing.py): the run builds the marts into marts__next and
# swaps it in for marts in one transaction, only when every step and error-severity check passed.

PG_PROBE = ("select (select count(*) from marts.fct_invoice_lines), (select sum(net_revenue_usd) from marts.kpi_revenue "
            "where period_type = 'month'), (select max(date_day) from marts.dim_date), "
            "(select max(fitted_at) from marts.customer_clv), (select max(fitted_at) from marts.clv_model_fits)")
BLOCKER_TEST = """{{ config(severity='error') }}
-- added by tests/test_publishing.py to a copy of the project: an error-severity check that fails
-- once the last mart (built after the Python marts) exists
select count(*) as provoked_failure from {{ ref('kpi_acquisition_monthly') }}
"""
# `make run`'s code path against another dbt project directory (the copy with the failing check)
RUN_WITH_PROJECT = ("import sys; from pathlib import Path; import orchestration.settings as s; "
                    "s.DBT_PROJECT_DIR = Path(sys.argv[1]); from orchestration.run import main; sys.exit(main([]))")


def pg_connect(settings: Settings, user: str | None = None):
    import psycopg2

    con = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=user or settings.pg_user,
                           password=None if user else settings.pg_password or None, dbname=settings.pg_database)
    con.autocommit = True
    return con


def pg_fetch(settings: Settings, sql: str, user: str | None = None) -> list[tuple]:
    con = pg_connect(settings, user)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


def pg_probe(settings: Settings, schema: str = "marts") -> tuple:
    return pg_fetch(settings, PG_PROBE.replace("marts.", f"{schema}."))[0]


def pg_marts_state(settings: Settings) -> dict:
    """Everything a reader of schema marts can observe: relations (by oid), rows, bi_reader's privileges."""
    con = pg_connect(settings)
    try:
        with con.cursor() as cur:
            cur.execute("select c.relname, c.oid::int, c.relacl::text from pg_class c join pg_namespace n "
                        "on n.oid = c.relnamespace where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm') "
                        "order by 1")
            relations = cur.fetchall()
            rows = {}
            for name, _, _ in relations:
                cur.execute(f'select * from marts."{name}"')
                rows[name] = sorted(cur.fetchall(), key=repr)
            cur.execute("select has_schema_privilege('bi_reader', 'marts', 'usage')")
            usage = cur.fetchone()[0]
    finally:
        con.close()
    return {"relations": relations, "rows": rows, "bi_reader_usage": usage}


def summary_line(stdout: str, label: str) -> str:
    return next((line for line in stdout.splitlines() if line.strip().startswith(label)), "")


def pg_build_tables(settings: Settings) -> set[tuple]:
    return set(pg_fetch(settings, "select c.relname, c.oid::int from pg_class c join pg_namespace n "
                                  "on n.oid = c.relnamespace where n.nspname = 'marts__next'"))


def assert_bi_reader_reads_marts_not_build(settings: Settings) -> None:
    import psycopg2

    tables = [t for (t,) in pg_fetch(settings, "select table_name from information_schema.tables "
                                               "where table_schema = 'marts' order by 1")]
    assert {"fct_invoice_lines", "kpi_acquisition_monthly", "customer_clv"} <= set(tables)
    con = pg_connect(settings, "bi_reader")
    try:
        with con.cursor() as cur:
            for table in tables:
                cur.execute(f'select count(*) from marts."{table}"')
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("select count(*) from marts__next.fct_invoice_lines")
    finally:
        con.close()


def read_while_running(run: subprocess.Popen, settings: Settings) -> tuple[set, list, int]:
    """Query marts as bi_reader until the run ends: (distinct answers, errors, queries)."""
    reader = pg_connect(settings, "bi_reader")  # a BI tool's long-lived connection
    answers, errors, queries = set(), [], 0
    try:
        while run.poll() is None:
            for con in (reader, None):  # and a fresh connection each time
                try:
                    if con is None:
                        answers.add(pg_fetch(settings, PG_PROBE, "bi_reader")[0])
                    else:
                        with con.cursor() as cur:
                            cur.execute(PG_PROBE)
                            answers.add(cur.fetchone())
                    queries += 1
                except Exception as exc:  # noqa: BLE001 - any failure to read is what this test forbids
                    errors.append(repr(exc))
            time.sleep(0.02)
    finally:
        reader.close()
    return answers, errors, queries


@pytest.fixture(scope="module")
def pg_published(tmp_path_factory):
    """A PostgreSQL warehouse published from a small generated landing, and one more day landed after it.

    The tests below run against it in turn; each reads what is published when it starts."""
    from conftest import fresh_pg_database

    tmp = tmp_path_factory.mktemp("publish_pg")
    with fresh_pg_database() as db:
        landing = tmp / "landing"
        generate(["--out", str(landing), *GEN])
        settings = replace(Settings.from_env(), landing_dir=landing, target="postgres", pg_database=db,
                           duckdb_path=tmp / "duckdb_unused" / "warehouse.duckdb")
        first = start_run(settings, tmp, "pg_first.log")
        out = finish(first)
        assert first.returncode == 0, out[-4000:]
        assert_bi_reader_reads_marts_not_build(settings)
        generate(["--out", str(landing), *GEN, "--extra-day"])
        yield settings, tmp


def test_pg_failed_check_leaves_published_marts_as_they_were(pg_published):
    settings, tmp = pg_published
    before, probe_before = pg_marts_state(settings), pg_probe(settings)
    project = tmp / "dbt_project_failing"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "tests" / "zz_provoked_failure.sql").write_text(BLOCKER_TEST)
    env = {**os.environ, **settings.environ(), "DAGSTER_HOME": str(tmp / "dagster_home")}
    with open(tmp / "pg_failed.log", "w") as log:
        run = subprocess.Popen([sys.executable, "-c", RUN_WITH_PROJECT, str(project)], env=env, cwd=PROJECT_ROOT,
                               stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        answers, errors, _ = read_while_running(run, settings)
        run.wait(timeout=900)
    out = (tmp / "pg_failed.log").read_text()
    assert run.returncode == 1, out[-4000:]
    assert "FAILED" in out
    assert "zz_provoked_failure (error)" in summary_line(out, "checks not met"), out[-3000:]
    assert errors == [] and answers == {probe_before}  # readers saw the published build all along
    # the whole new build (dbt and Python marts, the extra day included) is in the build schema...
    assert pg_probe(settings, "marts__next") != probe_before
    # ...and readers see exactly what they saw before: same tables (same objects), rows, grants
    assert pg_marts_state(settings) == before
    assert_bi_reader_reads_marts_not_build(settings)


def test_pg_killed_run_leaves_published_marts_intact(pg_published):
    settings, tmp = pg_published
    before = pg_marts_state(settings)
    build_tables = pg_build_tables(settings)
    run = start_run(settings, tmp, "pg_killed.log")
    # kill it once dbt has started replacing tables in the build schema
    deadline = time.time() + 300
    while pg_build_tables(settings) == build_tables and time.time() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert pg_marts_state(settings) == before
    assert_bi_reader_reads_marts_not_build(settings)


def test_pg_readers_see_one_published_build_at_a_time(pg_published):
    """bi_reader queries marts all through a full run (after the failed and killed ones above, if
    they ran): every query answers, from the old build or the new one, never a mix."""
    settings, tmp = pg_published
    before = pg_probe(settings)
    run = start_run(settings, tmp, "pg_readers.log")
    answers, errors, queries = read_while_running(run, settings)
    out = finish(run)
    assert run.returncode == 0, out[-4000:]
    after = pg_probe(settings)
    assert errors == []
    assert queries > 100
    assert after != before  # the new day was published
    assert answers <= {before, after}, answers  # never a half-published mix
    assert before in answers
    assert_bi_reader_reads_marts_not_build(settings)


def test_pg_swap_waits_for_readers_moves_grants_and_keeps_history():
    """publish_schema_swap on hand-made schemas (no dbt): a first publish without marts, then a swap
    while a reader's transaction is on the old build."""
    import threading

    import psycopg2

    from conftest import fresh_pg_database
    from orchestration.publishing import prepare_build_schema, publish_schema_swap

    with fresh_pg_database() as db:
        settings = replace(Settings.from_env(), target="postgres", pg_database=db)

        def sql(statement: str, user: str | None = None) -> list[tuple]:
            con = pg_connect(settings, user)
            try:
                with con.cursor() as cur:
                    cur.execute(statement)
                    return cur.fetchall() if cur.description else []
            finally:
                con.close()

        def build(n: int, fitted_at: str) -> None:
            assert prepare_build_schema(settings) == "marts__next"
            sql(f"create table marts__next.t as select {n} as build")
            sql("create table marts__next.clv_model_fits (fitted_at timestamp, model varchar); "
                f"insert into marts__next.clv_model_fits values ('{fitted_at}', 'sbg')")

        sql("do $$ begin create role bi_reader login; exception when duplicate_object then null; end $$")
        build(1, "2024-01-01")
        assert publish_schema_swap(settings)["first_publish"] is True
        assert sql("select build from marts.t", "bi_reader") == [(1,)]
        assert sql("select count(*) from pg_namespace where nspname = 'marts__next'") == [(0,)]

        build(2, "2024-02-01")
        reader = pg_connect(settings, "bi_reader")
        reader.autocommit = False  # a reader in the middle of a transaction on the old build
        with reader.cursor() as cur:
            cur.execute("select build from marts.t")
            assert cur.fetchall() == [(1,)]
        publisher = threading.Thread(target=publish_schema_swap, args=(settings,))
        publisher.start()
        time.sleep(1.5)
        assert publisher.is_alive()  # waits for the reader, without blocking it
        with reader.cursor() as cur:
            cur.execute("select build from marts.t")
            assert cur.fetchall() == [(1,)]
        reader.rollback()
        publisher.join(timeout=30)
        assert not publisher.is_alive()
        with reader.cursor() as cur:
            cur.execute("select build from marts.t")
            assert cur.fetchall() == [(2,)]
        reader.close()

        assert sql("select build from marts__next.t") == [(1,)]  # the old build is the next build schema
        # history: the published run's rows are carried into the build it was one run behind
        assert sql("select fitted_at::date::text from marts.clv_model_fits order by 1") == [
            ("2024-01-01",), ("2024-02-01",)]
        # privileges moved: bi_reader reads marts only, also tables created later in either schema
        sql("create table marts__next.later (x int); create table marts.later (x int)")
        assert sql("select has_schema_privilege('bi_reader', 'marts', 'usage'), "
                   "has_schema_privilege('bi_reader', 'marts__next', 'usage'), "
                   "has_table_privilege('bi_reader', 'marts.later', 'select'), "
                   "has_table_privilege('bi_reader', 'marts__next.t', 'select'), "
                   "has_table_privilege('bi_reader', 'marts__next.later', 'select')") == [(True, False, True, False, False)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            sql("select * from marts__next.t", "bi_reader")
