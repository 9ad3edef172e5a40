"""Write-audit-publish on DuckDB: readers are never locked out and never see a mix of two builds;
a run killed mid-way leaves the published marts intact and the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from orchestration.generate import main as generate
from orchestration.settings import PROJECT_ROOT, Settings

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
