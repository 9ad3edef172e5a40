"""The landing contract is written once (_sources.yml); everything that lists tables agrees with it."""

import re

import yaml

from orchestration.loading.contract import load_contracts
from orchestration.settings import DBT_PROJECT_DIR


def test_raw_tables_macro_matches_sources():
    macro = (DBT_PROJECT_DIR / "macros" / "raw_tables.sql").read_text()
    listed = re.findall(r"\('(\w+)', '(\w+)'\)", macro)
    assert [f"{s}.{t}" for s, t in listed] == list(load_contracts())


def test_every_raw_table_has_base_and_staging_model_with_key_tests():
    staging_dir = DBT_PROJECT_DIR / "models" / "staging"
    doc = yaml.safe_load((staging_dir / "_staging.yml").read_text())
    documented = {m["name"]: m for m in doc["models"]}
    for contract in load_contracts().values():
        name = f"{contract.source}__{contract.table}"
        assert (staging_dir / "base" / f"base_{name}.sql").exists()
        assert (staging_dir / f"stg_{name}.sql").exists()
        model = documented[f"stg_{name}"]
        tests = [t for c in model["columns"] for t in c.get("data_tests", [])] + model.get("data_tests", [])
        assert tests, f"stg_{name} has no primary-key test"


def test_every_contract_column_has_a_known_kind():
    doc = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    kinds = {"string", "enum", "timestamp", "date", "decimal", "epoch", "minor_units", "integer", "boolean", "currency"}
    for source in doc["sources"]:
        for table in source["tables"]:
            for col in table["columns"]:
                meta = col["config"]["meta"]
                assert meta["kind"] in kinds, (table["name"], col["name"])
                if meta["kind"] == "enum":
                    assert meta["values"], (table["name"], col["name"])
