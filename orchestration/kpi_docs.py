"""Write docs/kpis.md from the marts' yml: every mart, its grain, and every column with its formula.

`python -m orchestration.kpi_docs` regenerates it; tests/test_docs.py fails when it is stale.
"""

from __future__ import annotations

import sys

import yaml

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT

DOC_PATH = PROJECT_ROOT / "docs" / "kpis.md"
MART_YMLS = ["core/_core.yml", "revenue/_revenue.yml", "sales/_sales.yml", "analytics/_analytics.yml"]
HEADER = """# KPI reference

Generated from the dbt yml by `python -m orchestration.kpi_docs`: do not edit by hand.
Every table lives in schema `marts`; money is USD (`decimal(18,2)`), `_rate` columns are 0-1,
`_pct` columns 0-100, months are UTC and start on the 1st, and a ratio with a zero or NULL
denominator is NULL. The running month carries `is_partial_period = true`.
The contract these implement: `../shared/specs/kpis.md`.
"""


def _clean(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def render() -> str:
    parts = [HEADER]
    for rel in MART_YMLS:
        doc = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / rel).read_text())
        entries = [(m["name"], m.get("description"), m.get("columns", [])) for m in doc.get("models", [])]
        for source in doc.get("sources", []):
            entries += [(t["name"], f"{t.get('description', '')} (computed in Python by Dagster)", t.get("columns", []))
                        for t in source.get("tables", [])]
        for name, description, columns in entries:
            parts.append(f"\n## `marts.{name}`\n\n{_clean(description)}\n\n| column | type | meaning / formula |\n|---|---|---|")
            for col in columns:
                parts.append(f"| `{col['name']}` | {col.get('data_type', '')} | {_clean(col.get('description'))} |")
    return "\n".join(parts) + "\n"


def main() -> int:
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render())
    print(f"wrote {DOC_PATH.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
