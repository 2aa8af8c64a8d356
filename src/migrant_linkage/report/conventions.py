"""The report's naming-convention block: the profile (migrant_linkage.profile) of the run's
standardized records, as a table of shares. Counts and shares only, so the redacted report
shows it too."""

from __future__ import annotations

import pandas as pd

from migrant_linkage.profile import (
    CONVENTIONS,
    NAMING_PROFILE_FILE,
    PROFILED_COLUMNS,
    naming_profile,
)
from migrant_linkage.report.run import Run

INTRO = (
    "Share of records per state (and district, when the files name one) showing each naming "
    "and date convention, from what standardization recorded. Staff can expect these forms "
    "from these systems; docs/names.md explains each."
)


def conventions_table(run: Run) -> pd.DataFrame | None:
    """The profile with shares as percentages, from the run's standardized records or the
    naming_profile.csv the run wrote; None when neither is available."""
    records = run.standardized
    if records is not None and set(PROFILED_COLUMNS) <= set(records.columns) and len(records):
        profile = naming_profile(records)
    elif (run.folder / NAMING_PROFILE_FILE).exists():
        profile = pd.read_csv(
            run.folder / NAMING_PROFILE_FILE, dtype={"state": str, "district_id": str}
        )
    else:
        return None
    shown = profile[["state", "district_id", "records"]].copy()
    for convention in CONVENTIONS:
        share = profile[convention.name + "_share"]
        shown[convention.name.replace("_", " ")] = share.map("{:.1%}".format)
    return shown
