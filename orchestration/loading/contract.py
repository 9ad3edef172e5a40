"""The landing contract, read from the dbt sources file so it is written down exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.settings import SOURCES_YML

LANDING_COLUMNS = ("_loaded_at", "_is_deleted")
OPTIONAL_COLUMNS = frozenset({"_is_deleted"})  # empty or absent = not deleted
TRACE_COLUMNS = ("_source_file", "_row_number")


@dataclass(frozen=True)
class TableContract:
    source: str
    table: str
    schema: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Columns a landed file may carry, in order."""
        return self.columns + LANDING_COLUMNS

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.raw_columns if c not in OPTIONAL_COLUMNS)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def key(self) -> str:
        return f"{self.source}.{self.table}"


def load_contracts(path: Path = SOURCES_YML) -> dict[str, TableContract]:
    """`{"crm.leads": TableContract, ...}` in the order of the sources file."""
    doc = yaml.safe_load(path.read_text())
    contracts: dict[str, TableContract] = {}
    for source in doc["sources"]:
        for table in source["tables"]:
            meta = (table.get("config") or {}).get("meta") or {}
            contract = TableContract(
                source=source["name"],
                table=table["name"],
                schema=source["schema"],
                columns=tuple(c["name"] for c in table["columns"]),
                primary_key=tuple(meta.get("primary_key", ["id"])),
            )
            contracts[contract.key] = contract
    return contracts
