"""String perturbations applied once per distinct value (names have low cardinality).

Each function takes one name and returns its variant(s); callers map them over distinct values.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from functools import lru_cache

import numpy as np
import pandas as pd

PARTICLE_RE = re.compile(r"^(DE LA|DE LAS|DE LOS|DEL|DE)\s+(\S.*)$", re.IGNORECASE)

# Recruiters' phonetic spellings (DOMAIN.md): Z/S, V/B, LL/Y, J/G/X, silent H, soft C/S.
PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        ("Z", "S"),
        ("S", "Z"),
        ("V", "B"),
        ("B", "V"),
        ("LL", "Y"),
        ("(?<=[AEIOU])Y(?=[AEIOU])", "LL"),
        ("J(?=[EI])", "G"),
        ("G(?=[EI])", "J"),
        ("X", "J"),
        ("^H", ""),
        ("C(?=[EI])", "S"),
    )
)

# Neighbouring keys on a US QWERTY keyboard, for substitution typos.
_ROWS = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
KEY_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _i, _ch in enumerate(_row):
        near = [_row[j] for j in (_i - 1, _i + 1) if 0 <= j < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += [_ROWS[_other][j] for j in (_i, _i + 1) if j < len(_ROWS[_other])]
        KEY_NEIGHBOURS[_ch] = "".join(near)


@lru_cache(maxsize=1 << 18)
def strip_accents(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def mojibake(name: str) -> str:
    """UTF-8 bytes read as Windows-1252: JOSÉ -> JOSÃ‰ (undefined bytes become U+FFFD)."""
    return name.encode("utf-8").decode("cp1252", errors="replace")


def phonetic_variants(name: str) -> tuple[str, ...]:
    out = []
    for pattern, repl in PHONETIC_RULES:
        variant = pattern.sub(repl, name)
        if variant != name and variant.strip() and variant not in out:
            out.append(variant)
    return tuple(out)


def keyboard_typo(name: str, key: int) -> str:
    """One keying slip, chosen deterministically from `key`: adjacent key, drop, double, swap."""
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")) ^ key)
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if not letters:
        return name
    pos = letters[int(rng.integers(len(letters)))]
    kind = int(rng.integers(4))
    ch = name[pos]
    if kind == 0 and strip_accents(ch).upper() in KEY_NEIGHBOURS:
        near = KEY_NEIGHBOURS[strip_accents(ch).upper()]
        return name[:pos] + near[int(rng.integers(len(near)))] + name[pos + 1 :]
    if kind == 1 and len(letters) > 2:
        return name[:pos] + name[pos + 1 :]
    if kind == 2 or pos + 1 >= len(name) or name[pos + 1] == ch:
        return name[:pos] + ch + name[pos:]
    return name[:pos] + name[pos + 1] + ch + name[pos + 2 :]


def two_keying_slips(name: str, key: int) -> str:
    """Two keying slips (DAVID -> VQVID), the second never undoing the first."""
    once = keyboard_typo(name, key)
    for attempt in range(1, 9):
        twice = keyboard_typo(once, key ^ (attempt << 16))
        if twice != name:
            return twice
    return once  # a one-letter name can only slip back and forth: keep the single slip


def particle_parts(name: str) -> tuple[str, str] | None:
    """DE LA CRUZ -> ("DE LA", "CRUZ"); None when the surname has no particle."""
    m = PARTICLE_RE.match(name)
    # DE LA O is a surname of its own: a one-letter core is never written without its particle.
    return (m.group(1), m.group(2)) if m and len(m.group(2)) > 1 else None


def map_distinct(values: np.ndarray, func) -> np.ndarray:
    """Apply `func` once per distinct value; None stays None."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return mapped[codes]


def digits(numbers: np.ndarray, width: int = 0) -> np.ndarray:
    """Integers as zero-padded text (an object array), without a per-record Python call."""
    text = np.asarray(numbers).astype(np.int64).astype(str)
    return (np.char.zfill(text, width) if width else text).astype(object)


def map_distinct_keyed(values: np.ndarray, keys: np.ndarray, func) -> np.ndarray:
    """Apply `func(value, key)` once per distinct (value, key) pair."""
    frame = pd.DataFrame({"v": pd.Series(values, dtype=object), "k": keys})
    codes, uniques = pd.MultiIndex.from_frame(frame).factorize()
    mapped = np.array([func(v, int(k)) for v, k in uniques] + [None], dtype=object)
    return mapped[codes]
