"""What every benchmark's JSON carries: the commit measured, and values JSON can hold."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pandas as pd


def git_commit() -> str:
    """The commit measured, so a published figure can be traced to the code that made it."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def json_ready(value: object) -> object:
    """NaN and pandas' NA (an undefined ratio, a missing value) become null; numpy scalars
    become plain numbers; dict keys become text."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
