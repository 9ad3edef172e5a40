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


def start_run(settings: Settings, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, **settings.environ(), "DAGSTER_HOME": str(tmp / "dagster_home")}
    return subprocess.Popen([sys.executable, "-m", "orchestration.run"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


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
    first = start_run(settings, tmp_path)
    out, _ = first.communicate(timeout=900)
    assert first.returncode == 0, out[-4000:]
    before = probe(settings.duckdb_path)
    generate(["--out", str(landing), *GEN, "--extra-day"])
    return settings, before


def test_readers_see_one_published_build_at_a_time(published, tmp_path):
    settings, before = published
    run = start_run(settings, tmp_path)
    answers, errors = set(), []
    while run.poll() is None:
        try:
            answers.add(probe(settings.duckdb_path))
        except Exception as exc:  # noqa: BLE001 - any failure to read is what this test forbids
            errors.append(repr(exc))
        time.sleep(0.05)
    out = run.stdout.read()
    assert run.returncode == 0, out[-4000:]
    after = probe(settings.duckdb_path)
    assert errors == []
    assert after != before  # the new day was published
    assert answers <= {before, after}, answers  # never a half-published mix
    assert before in answers


def test_killed_run_leaves_published_intact_and_next_run_completes(published, tmp_path):
    settings, before = published
    run = start_run(settings, tmp_path)
    # kill it once dbt is building (the build copy exists and dbt has started writing)
    deadline = time.time() + 300
    for line in run.stdout:
        if "Running dbt command" in line or time.time() > deadline:
            break
    time.sleep(2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert probe(settings.duckdb_path) == before  # published marts untouched and readable
    rerun = start_run(settings, tmp_path)
    out, _ = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, out[-4000:]
    assert probe(settings.duckdb_path) != before
