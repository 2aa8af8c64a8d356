"""Shared pytest hooks.

`hostile_cases` counts the hostile-input cases the robustness suite tried (hypothesis examples
and fixed files), so CI output shows how much hostile input a run actually exercised.
"""

from __future__ import annotations

from collections import Counter

import pytest

_HOSTILE_CASES = pytest.StashKey[Counter]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_HOSTILE_CASES] = Counter()


@pytest.fixture(scope="session")
def hostile_cases(pytestconfig: pytest.Config) -> Counter:
    """A session-wide Counter: `hostile_cases["<kind>"] += 1` once per case tried."""
    return pytestconfig.stash[_HOSTILE_CASES]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    counts = config.stash.get(_HOSTILE_CASES, Counter())
    if not counts:
        return
    detail = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))
    terminalreporter.write_line(f"hostile-input cases tried: {sum(counts.values())} ({detail})")
