"""Shared helpers: timeline, deterministic random streams, ids, vectorised time maths."""
from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

NULL = np.int64(-(2**62))  # sentinel for NULL in integer-typed columns (epochs, days, cents)
DAY = 86_400
HOUR = 3_600

CURRENCIES = np.array(["usd", "eur", "gbp"])
CURRENCIES_UP = np.array(["USD", "EUR", "GBP"])


def log(msg: str) -> None:
    print(f"[generate] {msg}", file=sys.stderr, flush=True)


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent, deterministic random stream per component."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def epoch_of(d: date | datetime) -> int:
    if isinstance(d, datetime):
        return int(d.replace(tzinfo=timezone.utc).timestamp()) if d.tzinfo is None else int(d.timestamp())
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def iso_utc(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).isoformat()


def add_month_scalar(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


@dataclass
class Timeline:
    start: date
    months: int
    t0: int                   # epoch of start 00:00 UTC
    extracts: np.ndarray      # epoch of every extract: M monthly + mid-month last + extra day
    names: list               # file stem per extract (YYYY-MM-DD)
    month_starts: np.ndarray  # epoch of the first day of each calendar month touched (incl. current)

    @property
    def n_main(self) -> int:  # number of batches in the committed tree
        return len(self.extracts) - 1

    @property
    def extra_index(self) -> int:
        return len(self.extracts) - 1

    @property
    def t_last(self) -> int:  # the last extract of the main tree (= as_of)
        return int(self.extracts[-2])

    @property
    def t_extra(self) -> int:  # the extra-day extract: the simulation horizon
        return int(self.extracts[-1])


def make_timeline(start: date, months: int) -> Timeline:
    if months < 2:
        raise ValueError("months must be >= 2")
    first = date(start.year, start.month, 1)
    ex_dates = [add_month_scalar(first, k) for k in range(1, months + 1)]  # 1st of each following month
    ex_dates.append(add_month_scalar(first, months) + timedelta(days=14))  # mid-month: partial current month
    ex_dates.append(ex_dates[-1] + timedelta(days=1))                     # the --extra-day
    extracts = np.array([epoch_of(d) + 3 * HOUR for d in ex_dates], dtype=np.int64)
    names = [d.isoformat() for d in ex_dates]
    month_starts = np.array([epoch_of(add_month_scalar(first, k)) for k in range(months + 1)], dtype=np.int64)
    return Timeline(start, months, epoch_of(start), extracts, names, month_starts)


# ---------------------------------------------------------------- ids
_ALPHA = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_ALNUM_LOW = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def _encode(x: np.ndarray, width: int, alphabet: np.ndarray) -> np.ndarray:
    base = len(alphabet)
    x = np.asarray(x, dtype=np.int64).copy()
    out = np.empty((len(x), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = alphabet[x % base]
        x //= base
    return out.view(f"S{width}").ravel().astype(f"U{width}")


def make_ids(prefix: str, counters, width: int = 14, mult: int = 0x5DEECE66D, salt: int = 0) -> np.ndarray:
    """Unique, random-looking ids: prefix + base62(bijective scramble of counter).

    Uses base62 over `width` digits split into a scrambled high part (bijective mod 62**7)
    and a filler part, so distinct counters always give distinct ids."""
    c = np.asarray(counters, dtype=np.int64)
    m7 = 62**7
    a = (c * (mult % m7 | 1) + 1_234_567_891 + salt) % m7         # bijective: multiplier odd, not /31
    if (mult % m7 | 1) % 31 == 0:
        raise ValueError("bad multiplier")
    b = ((c + 1) * 2654435761 + 0x9E3779B9 + 97 * salt) % (62 ** max(1, width - 7))
    hi = _encode(a, 7, _ALPHA)
    lo = _encode(b, max(1, width - 7), _ALPHA)
    return np.char.add(np.char.add(prefix, lo), hi)


def make_sf_ids(prefix: str, counters) -> np.ndarray:
    """Salesforce-like 15-char ids: 3-char key prefix + '5e0' + 9 base62 digits."""
    c = np.asarray(counters, dtype=np.int64)
    off = zlib.crc32(prefix.encode()) * 1_000_003
    return np.char.add(prefix + "5e0", _encode((c * 3_700_000_001 + 62**8 + off) % 62**9, 9, _ALPHA))


# ---------------------------------------------------------------- time helpers
def to_days(ts: np.ndarray) -> np.ndarray:
    return np.floor_divide(ts, DAY)


def month_index(ts: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of epoch seconds."""
    d = np.floor_divide(np.asarray(ts, dtype=np.int64), DAY).astype("datetime64[D]")
    return d.astype("datetime64[M]").astype(np.int64)


def month_start_epoch(midx: np.ndarray) -> np.ndarray:
    return np.asarray(midx, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) * DAY


def add_months(anchor: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Stripe-style: same day-of-month/time as `anchor`, n months later, clamped to month end."""
    anchor = np.asarray(anchor, dtype=np.int64)
    days = np.floor_divide(anchor, DAY)
    secs = anchor - days * DAY
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)  # 0-based
    nm = m + np.asarray(n, dtype=np.int64)
    dim = ((nm + 1).astype("datetime64[D]") - nm.astype("datetime64[D]")).astype(np.int64)
    nd = nm.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, dim - 1)
    return nd * DAY + secs


def sample_growth(rng: np.random.Generator, n: int, lo: int, hi: int, growth: float = 1.0) -> np.ndarray:
    """n epoch times in [lo, hi) with density rising linearly by factor (1+growth)."""
    u = rng.random(n)
    a, b = 1.0, growth
    # inverse CDF of density a + b x on [0,1]
    if b == 0:
        x = u
    else:
        x = (-a + np.sqrt(a * a + 2 * b * u * (a + b / 2))) / b
    return (lo + x * (hi - lo)).astype(np.int64)


def group_arange(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def choice_idx(rng: np.random.Generator, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def pick(rng: np.random.Generator, n: int, frac: float, minimum: int = 1) -> np.ndarray:
    """Indices of about frac*n items (at least `minimum` when n > 0), sorted."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    k = min(n, max(minimum, int(round(frac * n))))
    return np.sort(rng.choice(n, size=k, replace=False))


def pick_masked(rng: np.random.Generator, mask: np.ndarray, frac: float, minimum: int = 1) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return idx[pick(rng, len(idx), frac, minimum)]


def lognormal_days(rng, n, median, sigma, lo, hi):
    return np.clip(rng.lognormal(np.log(median), sigma, n), lo, hi)
