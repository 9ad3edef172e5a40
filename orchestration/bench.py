"""`make bench SCALE=<customers>`: time the warehouse the way a team runs it nightly.

1. generate a landing folder (timed separately, not counted);
2. a from-scratch build: load, dbt build, Python assets, publish, the rest (start-up, imports, dbt
   parse, Dagster bookkeeping), total, rows per raw table, peak RSS of the whole process tree; every
   run is a fresh process, as a scheduler starts it;
3. a nightly run after one more day of files lands; 4. a no-op nightly run (nothing new);
5. the engine's floor: the compiled SQL of every dbt model run straight on DuckDB in dependency
   order, and the ratio dbt build / floor;
6. dbt's own fixed cost for this graph: `dbt build --empty` (no rows anywhere), the least any
   nightly dbt step can take.
Prints a table, or JSON with --json. Figures only; no assertion on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings


class TreeRssSampler:
    """Peak resident memory of this process and all its descendants, sampled from /proc."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s, self.peak_bytes, self._stop = interval_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss(root: int) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo += children.get(pid, [])
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._tree_rss(os.getpid()))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "TreeRssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def step_seconds(result) -> dict[str, float]:
    """Wall time per phase from the Dagster run's step events."""
    phases = {"load": 0.0, "dbt": 0.0, "python": 0.0, "publish": 0.0}
    for ev in result.all_events:
        if ev.event_type_value not in ("STEP_SUCCESS", "STEP_FAILURE"):
            continue
        seconds = (getattr(ev.event_specific_data, "duration_ms", None) or 0) / 1000
        key = ev.step_key
        if key.startswith("load_"):  # load_landed_files: every raw table and the ledger
            phases["load"] += seconds
        elif key.startswith("warehouse_dbt_models"):
            phases["dbt"] += seconds
        elif key.startswith("publish"):
            phases["publish"] += seconds
        else:
            phases["python"] += seconds
    return phases


def timed_run(settings: Settings) -> dict:
    """One pipeline run the way a scheduler starts one: a fresh Python process that parses the dbt
    project (skipped when nothing it reads changed) and runs the job. total_s is the wall time from
    spawn to exit, so the interpreter, the imports and any parse count in every run."""
    # untimed: write out what the previous run (or the landing copy) left in the page cache, so a
    # run does not pay for flushing its predecessor's 1-2 GB, which a night apart it would not
    os.sync()
    with tempfile.TemporaryDirectory() as tmp:
        phases_file = Path(tmp) / "phases.json"
        started = time.perf_counter()
        with TreeRssSampler() as sampler:
            subprocess.run([sys.executable, "-m", "orchestration.bench", "--run-once", str(phases_file)],
                           env={**os.environ, **settings.environ()}, cwd=PROJECT_ROOT, check=True)
        total = time.perf_counter() - started
        phases = json.loads(phases_file.read_text())
    success, cpu = phases.pop("success"), phases.pop("cpu")
    figures = {k: round(v, 2) for k, v in phases.items()}
    # start-up, dbt parse, Dagster definitions, run creation and finish: outside every step
    figures.update(other_s=round(total - sum(phases.values()), 2), total_s=round(total, 2),
                   success=success, peak_rss_mb=round(sampler.peak_bytes / 2**20),
                   cpu_orchestrator_s=round(cpu["orchestrator"], 2), cpu_dbt_s=round(cpu["dbt"], 2))
    return figures


def run_once(phases_file: Path) -> int:
    """The child of timed_run: parse, run the nightly job, write the seconds per phase."""
    from orchestration.run import parse_dbt_project, run_pipeline

    settings = Settings.from_env()
    parse_dbt_project(settings)
    result = run_pipeline(settings, quiet=True)
    # CPU seconds of this process (imports, Dagster, load, Python marts, publish) and of the dbt
    # processes it started and waited for: on two cores, more than ~1.5x the wall time means the run
    # is waiting for the CPU, not for the disk or a lock
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {"orchestrator": own.ru_utime + own.ru_stime, "dbt": children.ru_utime + children.ru_stime}
    phases_file.write_text(json.dumps({**step_seconds(result), "success": result.success, "cpu": cpu}))
    return 0


def engine_floor(settings: Settings, work: Path) -> float:
    """Seconds to run every model's compiled SQL straight on DuckDB, in dependency order."""
    import duckdb

    target = work / "floor_target"
    env = {**os.environ, **settings.dbt_env()}
    subprocess.run([str(Path(sys.executable).parent / "dbt"), "compile", "--project-dir", str(DBT_PROJECT_DIR),
                    "--profiles-dir", str(PROJECT_ROOT), "--target-path", str(target), "--quiet",
                    "--full-refresh"],  # incremental models compiled as the full build they are timed against
                   env=env, check=True)
    manifest = json.loads((target / "manifest.json").read_text())
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    order, seen = [], set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in models:
            return
        seen.add(uid)
        for dep in models[uid]["depends_on"]["nodes"]:
            visit(dep)
        order.append(uid)

    for uid in sorted(models):
        visit(uid)
    floor_db = work / "floor" / settings.duckdb_path.name
    floor_db.parent.mkdir(exist_ok=True)
    shutil.copyfile(settings.duckdb_path, floor_db)
    con = duckdb.connect(str(floor_db))
    # the dbt profile's memory limit and temp directory (profiles.yml, target duckdb), so the floor is
    # the engine doing the same work under the same limits, with every core on each statement
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set threads = {os.cpu_count()}")  # one statement at a time, on every core
    con.execute(f"set memory_limit = '{os.environ.get('WAREHOUSE_DUCKDB_MEMORY_LIMIT', '4GB')}'")
    con.execute(f"set temp_directory = '{work / 'floor' / 'tmp'}'")
    started = time.perf_counter()
    for uid in order:
        node = models[uid]
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        relation = f'"{node["schema"]}"."{node["alias"]}"'
        con.execute(f'create schema if not exists "{node["schema"]}"')
        con.execute(f"create or replace {kind} {relation} as {node['compiled_code']}")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def dbt_fixed_cost(settings: Settings, work: Path) -> dict:
    """The dbt graph's own cost with no data to move: `dbt build --empty` (every ref and source read
    as zero rows; every model, test and hook still compiled, run and reported) on a copy of the
    floor's warehouse, as a fresh process. No nightly dbt step of this graph can be faster."""
    db = work / "empty" / settings.duckdb_path.name
    db.parent.mkdir(exist_ok=True)
    shutil.copyfile(work / "floor" / settings.duckdb_path.name, db)
    env = {**os.environ, **settings.dbt_env(), "WAREHOUSE_DBT_DUCKDB_PATH": str(db)}
    dbt, target = [str(Path(sys.executable).parent / "dbt")], work / "empty_target"
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(PROJECT_ROOT),
              "--target-path", str(target), "--quiet"]
    # untimed: parse for this profile first (another database path is another profile for dbt's
    # partial parsing), so the build starts from a parsed project, as a run's dbt step does
    subprocess.run([*dbt, "parse", *common], env=env, check=True)
    started = time.perf_counter()
    subprocess.run([*dbt, "build", "--empty", *common, "--exclude-resource-type", "unit_test"], env=env, check=True)
    elapsed = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())
    return {"dbt_empty_s": round(elapsed, 2), "dbt_empty_nodes": len(results["results"]),
            "dbt_empty_node_phase_s": round(results["elapsed_time"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--landing", type=Path,
                        help="copy this landing folder (written by the generator with the same --customers/--months "
                             "and --start 2023-01-01 --seed 7) instead of generating one")
    parser.add_argument("--extra-day", type=Path,
                        help="copy this folder's files (the generator's --extra-day output for the same landing) "
                             "into the landing for the nightly run instead of generating them")
    parser.add_argument("--run-once", type=Path, help=argparse.SUPPRESS)  # timed_run's child process
    args = parser.parse_args(argv)
    if args.run_once:
        return run_once(args.run_once)

    def generate_main(gen_argv: list[str]) -> None:
        # in a child process, so the generator's memory is not counted in the runs' peak RSS
        subprocess.run([sys.executable, "-m", "orchestration.generate", *gen_argv], check=True, cwd=PROJECT_ROOT)

    work = Path(tempfile.mkdtemp(prefix="warehouse-bench-"))
    landing = work / "landing"
    gen_args = ["--out", str(landing), "--customers", str(args.customers), "--start", "2023-01-01",
                "--months", str(args.months), "--dirty-rate", "0.01", "--seed", "7"]
    started = time.perf_counter()
    if args.landing:
        shutil.copytree(args.landing, landing)
    else:
        generate_main(gen_args)
    generation_s = time.perf_counter() - started

    settings = replace(Settings.from_env(), landing_dir=landing, target="duckdb",
                       duckdb_path=work / "warehouse" / "warehouse.duckdb")
    os.environ["DAGSTER_HOME"] = str(work / "dagster_home")
    report: dict = {"customers": args.customers, "months": args.months, "generation_s": round(generation_s, 2)}
    report["full_build"] = timed_run(settings)
    import duckdb

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        report["raw_rows"] = {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                              for s, t in con.execute(
                                  "select table_schema, table_name from information_schema.tables "
                                  "where table_schema like 'raw_%' order by 1, 2").fetchall()}
    report["floor_s"] = round(engine_floor(settings, work), 2)
    report["dbt_to_floor_ratio"] = round(report["full_build"]["dbt"] / report["floor_s"], 2) if report["floor_s"] else None
    report.update(dbt_fixed_cost(settings, work))
    if args.extra_day:
        shutil.copytree(args.extra_day, landing, dirs_exist_ok=True)
    else:
        generate_main(gen_args + ["--extra-day"])
    report["nightly_one_day"] = timed_run(settings)
    report["nightly_noop"] = timed_run(settings)
    report["nightly_to_full_ratio"] = round(report["nightly_one_day"]["total_s"] / report["full_build"]["total_s"], 3)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"\nBenchmark: {args.customers:,} customers, {args.months} months (generation {generation_s:.1f} s, not counted)")
    print(f"{'run':<18}{'load s':>9}{'dbt s':>9}{'python s':>10}{'publish s':>11}{'other s':>9}{'total s':>10}"
          f"{'peak RSS MB':>13}")
    for name in ("full_build", "nightly_one_day", "nightly_noop"):
        r = report[name]
        print(f"{name:<18}{r['load']:>9.1f}{r['dbt']:>9.1f}{r['python']:>10.1f}{r['publish']:>11.1f}"
              f"{r['other_s']:>9.1f}{r['total_s']:>10.1f}{r['peak_rss_mb']:>13,}")
    print("(other: Python start-up and imports, dbt parse, Dagster definitions and run bookkeeping; "
          "publish: build copy and publish)")
    print("CPU s (orchestrating process + dbt processes, on " f"{os.cpu_count()} cores): "
          + "; ".join(f"{name} {report[name]['cpu_orchestrator_s']:.1f} + {report[name]['cpu_dbt_s']:.1f}"
                      for name in ("full_build", "nightly_one_day", "nightly_noop")))
    print(f"engine floor (compiled SQL straight on DuckDB): {report['floor_s']:.1f} s; "
          f"dbt build / floor = {report['dbt_to_floor_ratio']}")
    print(f"dbt on empty inputs (the graph's fixed cost: {report['dbt_empty_nodes']} nodes, no rows): "
          f"{report['dbt_empty_s']:.1f} s, of which running nodes {report['dbt_empty_node_phase_s']:.1f} s")
    print(f"nightly one-day run / full build = {report['nightly_to_full_ratio']}")
    print("raw rows: " + ", ".join(f"{k} {v:,}" for k, v in report["raw_rows"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
