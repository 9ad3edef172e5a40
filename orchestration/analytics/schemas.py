"""Column types of the Python-computed marts, read from their dbt source declaration
(dbt_project/models/marts/analytics/_analytics.yml) so they are written down once."""

from __future__ import annotations

from functools import cache

import yaml

from orchestration.settings import DBT_PROJECT_DIR

ANALYTICS_YML = DBT_PROJECT_DIR / "models" / "marts" / "analytics" / "_analytics.yml"


@cache
def python_mart_types() -> dict[str, dict[str, str]]:
    """{"customer_clv": {"customer_id": "varchar", ...}, ...} in declared column order."""
    doc = yaml.safe_load(ANALYTICS_YML.read_text())
    source = next(s for s in doc["sources"] if s["name"] == "analytics")
    return {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in source["tables"]}
