"""Reference tables for the synthetic generator, read once from data/synthetic/*.csv."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "synthetic"


@dataclass(frozen=True)
class WeightedNames:
    """Names with their probabilities (summing to 1), in table order."""

    names: np.ndarray  # object array of str
    probs: np.ndarray

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.names[rng.choice(len(self.names), size=size, p=self.probs)]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False, encoding="utf-8")


def _weighted(frame: pd.DataFrame) -> WeightedNames:
    weights = frame["weight"].astype(float).to_numpy()
    return WeightedNames(frame["name"].to_numpy(dtype=object), weights / weights.sum())


@cache
def surnames() -> WeightedNames:
    return _weighted(_read("surnames.csv"))


@cache
def given_names(sex: str) -> WeightedNames:
    frame = _read("given_names.csv")
    return _weighted(frame[frame["sex"] == sex])


@cache
def name_variants() -> pd.DataFrame:
    """Columns name, variant, kind (nickname | english), note."""
    return _read("given_name_variants.csv")


@cache
def circuits() -> pd.DataFrame:
    frame = _read("migrant_circuits.csv")
    frame["weight"] = frame["weight"].astype(float)
    return frame


@cache
def state_conventions() -> pd.DataFrame:
    return _read("state_conventions.csv").set_index("state")


@cache
def birth_places() -> pd.DataFrame:
    frame = _read("birth_places.csv")
    frame["weight"] = frame["weight"].astype(float)
    return frame


@cache
def english_nicknames() -> dict[str, tuple[str, ...]]:
    """English name -> its nicknames (RICHARD -> DICK, RICH, RICHIE, ...), in table order."""
    frame = _read("english_nicknames.csv")
    return {str(name): tuple(g["nickname"]) for name, g in frame.groupby("name", sort=False)}


@cache
def placeholder_names(sex: str) -> np.ndarray:
    """Placeholders written for a child of this sex (F or M): its own and the sexless ones."""
    frame = _read("placeholder_names.csv")
    return frame.loc[frame["sex"].isin([sex, "any"]), "name"].to_numpy(dtype=object)
