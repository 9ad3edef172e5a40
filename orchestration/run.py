"""`make run`: build the whole warehouse in process through the same Dagster graph the schedule runs.

Prints a short summary: files loaded and refused, rows loaded, rows quarantined per rule, models
built, checks passed, elapsed time. Exit code 1 when the run failed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg

from orchestration.instance import ensure_instance_config
from orchestration.publishing import start_early_build_copy
from orchestration.run_lock import EXIT_BUSY, WarehouseBusyError, run_lock
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from orchestration.warehouse import connect

log = logging.getLogger("warehouse.run")


NOT_PARSED = ("target", "logs", "dbt_packages")  # dbt's outputs, not its inputs


def manifest_key(settings: Settings, project_dir: Path = DBT_PROJECT_DIR) -> str:
    """What the manifest is a function of: the dbt project's files, profiles.yml, the dbt version
    and the environment variables the project and profile read (WAREHOUSE_*, DBT_*)."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n".encode())
    environ = {**os.environ, **settings.environ()}
    for name in sorted(k for k in environ if k.startswith(("WAREHOUSE_", "DBT_"))):
        digest.update(f"{name}={environ[name]}\n".encode())
    digest.update((PROJECT_ROOT / "profiles.yml").read_bytes())
    for file in sorted(p for p in project_dir.rglob("*")
                       if p.is_file() and p.relative_to(project_dir).parts[0] not in NOT_PARSED):
        # the path too: a model moved to another folder gets another fqn, schema and config
        digest.update(f"\0{file.relative_to(project_dir).as_posix()}\0".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def parse_dbt_project(settings: Settings, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Write the dbt manifest Dagster reads; False when skipped because the manifest on disk was
    parsed from the same files and settings (`manifest_key`): even a partial parse of an unchanged
    project costs a second or more per run. `target/manifest.key` holds the key and the manifest's
    size and mtime, so a manifest rewritten since (dbt run by hand) is parsed again."""
    settings.apply_to_environ()
    manifest, key_file = project_dir / "target" / "manifest.json", project_dir / "target" / "manifest.key"

    def stamp() -> str:
        st = manifest.stat()
        return f"{manifest_key(settings, project_dir)} {st.st_size} {st.st_mtime_ns}"

    if manifest.exists() and key_file.exists() and key_file.read_text() == stamp():
        log.info("dbt manifest up to date (no project file or setting changed): parse skipped")
        return False
    from dbt.cli.main import dbtRunner

    key_file.unlink(missing_ok=True)
    res = dbtRunner().invoke(
        ["parse", "--project-dir", str(project_dir), "--profiles-dir", str(PROJECT_ROOT),
         "--target", settings.target, "--quiet"]
    )
    if not res.success:
        raise SystemExit(f"dbt parse failed: {res.exception}")
    key_file.write_text(stamp())
    return True


def run_pipeline(settings: Settings, quiet: bool = False) -> dg.ExecuteInProcessResult:
    """Run the nightly job in this process. Raises WarehouseBusyError, before changing anything,
    when another run holds the warehouse's run lock (orchestration/run_lock.py)."""
    with run_lock(settings):
        # the build copy runs in the background while the definitions are imported and the run is created
        start_early_build_copy(settings)
        from orchestration.definitions import build_definitions

        defs = build_definitions(settings)
        job = defs.resolve_job_def("nightly_warehouse")
        if os.environ.get("DAGSTER_HOME"):
            ensure_instance_config(Path(os.environ["DAGSTER_HOME"]))
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        run_config = {"loggers": {"console": {"config": {"log_level": "WARNING" if quiet else "INFO"}}}}
        return job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)


def summarize(result: dg.ExecuteInProcessResult, settings: Settings, elapsed: float) -> str:
    loads: Counter = Counter()
    models = 0
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        if "files_loaded" in meta:
            for k in ("files_loaded", "rows_loaded", "files_skipped", "files_empty", "files_duplicate"):
                loads[k] += int(meta.get(k, 0))
        elif (event.step_key or "").startswith("warehouse_dbt_models"):
            models += 1
    checks = Counter()
    failed_checks = []
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            ok = data.passed
            checks["passed" if ok else f"failed_{data.severity.value.lower()}"] += 1
            if not ok:
                failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value.lower()})")
    failed_steps = [ev.step_key for ev in result.all_events if ev.event_type_value == "STEP_FAILURE"]

    lines = [
        "",
        f"Warehouse build ({settings.target}) {'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s",
        f"  landing folder : {settings.landing_dir}",
        f"  files          : {loads['files_loaded']} loaded, {loads['files_skipped']} already loaded, "
        f"{loads['files_empty']} empty, {loads['files_duplicate']} duplicate",
        f"  rows loaded    : {loads['rows_loaded']:,}",
        f"  dbt models     : {models} built"
        + (" (nothing new since the last published build: dbt, Python marts and publish skipped)"
           if result.success and models == 0 else ""),
        f"  checks         : {checks['passed']} passed, {checks['failed_warn']} warnings, {checks['failed_error']} failed",
    ]
    try:
        # what readers now see on success; the unpublished build when the run failed
        with connect(settings, read_only=settings.target == "duckdb", published=result.success) as wh:
            refused = wh.fetchall(
                "select outcome, count(*) from audit.load_ledger where outcome in "
                "('rejected', 'changed_file') group by outcome order by outcome"
            )
            rules = wh.fetchall("select rule, count(*) from audit.quarantine group by rule order by 2 desc, 1")
        lines.append("  files refused  : " + (", ".join(f"{n} {o}" for o, n in refused) or "none"))
        lines.append(f"  quarantined    : {sum(n for _, n in rules):,} rows")
        lines += [f"      {n:>7,}  {rule}" for rule, n in rules]
    except Exception as exc:  # noqa: BLE001 - the summary must not hide the run's own result
        lines.append(f"  (audit tables not readable: {exc})")
    if failed_steps:
        lines.append("  failed steps   : " + ", ".join(failed_steps))
    if failed_checks:
        lines.append("  checks not met : " + ", ".join(failed_checks[:20]))
    if settings.target == "duckdb":
        lines.append(f"  warehouse      : {settings.duckdb_path}"
                     + ("" if result.success else f" (unchanged; the failed build is {settings.duckdb_build_path})"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parse-only", action="store_true", help="only write the dbt manifest (for dagster dev)")
    parser.add_argument("--full-refresh", action="store_true",
                        help="rebuild the incremental models from every landed row (after a contract change)")
    args = parser.parse_args(argv)
    if args.full_refresh:
        os.environ["DBT_FULL_REFRESH"] = "true"  # dbt reads its flags from DBT_<FLAG> variables
    # Our own progress lines only; Dagster and dbt print theirs through Dagster's console logger.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    warehouse_log = logging.getLogger("warehouse")
    warehouse_log.addHandler(handler)
    warehouse_log.setLevel(logging.INFO)
    warehouse_log.propagate = False  # a library's root handler would print every line twice
    settings = Settings.from_env()
    started = time.perf_counter()
    log.info("parsing the dbt project (target %s)", settings.target)
    parse_dbt_project(settings)
    if args.parse_only:
        if os.environ.get("DAGSTER_HOME"):  # `make dev` starts Dagster on the instance config runs use
            ensure_instance_config(Path(os.environ["DAGSTER_HOME"]))
        return 0
    try:
        result = run_pipeline(settings)
    except WarehouseBusyError as exc:
        print(f"Warehouse build ({settings.target}) not started: {exc}", file=sys.stderr)
        return EXIT_BUSY
    print(summarize(result, settings, time.perf_counter() - started))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
