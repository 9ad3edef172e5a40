"""The simulated world: parameters, random streams and the collected record versions per table."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .core import Timeline, make_timeline, rng_for
from .schema import TABLES


class World:
    def __init__(self, customers: int, start: date, months: int, seed: int):
        self.N = int(customers)
        self.start = start
        self.months = int(months)
        self.seed = int(seed)
        self.tl: Timeline = make_timeline(start, months)
        self.T0 = self.tl.t0
        self.T_last = self.tl.t_last
        self.T_end = self.tl.t_extra          # simulation horizon (end of the --extra-day)
        self._parts: dict[str, list] = {k: [] for k in TABLES}
        self._next_rec: dict[str, int] = {k: 0 for k in TABLES}
        self.info: dict = {}                  # cross-module facts (users, accounts, customers, ...)

    def rng(self, name: str) -> np.random.Generator:
        return rng_for(self.seed, name)

    def recs(self, fqn: str, n: int) -> np.ndarray:
        s = self._next_rec[fqn]
        self._next_rec[fqn] = s + int(n)
        return np.arange(s, s + int(n), dtype=np.int64)

    def add(self, fqn: str, rec, vt, deleted=False, tz=None, late=False, **cols) -> None:
        """Append record versions: one row per element (arrays broadcast to the length of rec)."""
        rec = np.asarray(rec, dtype=np.int64)
        n = len(rec)
        if n == 0:
            return
        data = {"_rec": rec, "_vt": np.broadcast_to(np.asarray(vt, dtype=np.int64), (n,)).copy(),
                "_del": np.broadcast_to(np.asarray(deleted, dtype=bool), (n,)).copy(),
                "_late": np.broadcast_to(np.asarray(late, dtype=bool), (n,)).copy()}
        if tz is not None:
            data["_tz"] = np.broadcast_to(np.asarray(tz, dtype=np.int64), (n,)).copy()
        t = TABLES[fqn]
        for c, kind in t.columns:
            if c not in cols:
                raise KeyError(f"{fqn}: missing column {c}")
            v = cols[c]
            if kind == "str":
                arr = np.empty(n, dtype=object)
                arr[:] = np.broadcast_to(np.asarray(v, dtype=object), (n,))
            elif kind == "bool":
                arr = np.broadcast_to(np.asarray(v).astype(np.int8), (n,)).copy()
            else:
                arr = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
            data[c] = arr
        extra = set(cols) - {c for c, _ in t.columns}
        if extra:
            raise KeyError(f"{fqn}: unknown columns {extra}")
        self._parts[fqn].append(pd.DataFrame(data))

    def versions(self, fqn: str) -> pd.DataFrame:
        parts = self._parts[fqn]
        if not parts:
            raise ValueError(f"no versions for {fqn}")
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return df
