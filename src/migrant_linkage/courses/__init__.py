"""The course crosswalk (issue 18; seed §2.1.3): map a state's course titles to a reference
catalogue, let a data specialist accept or correct the suggestions, remember them per state.

    from migrant_linkage.courses import read_catalogue, map_titles, read_mappings, remember
    catalogue = read_catalogue("catalogue.csv")          # or example_catalogue_path()
    result = map_titles("tx_titles.csv", catalogue, state="TX", mappings=read_mappings("m.csv"))
    result.suggestions, result.review, result.rejects, result.counts

normalize.py: titles into comparable words; catalogue.py: the user's catalogue CSV;
crosswalk.py: candidates, scores and reasons; mappings.py: accepted mappings per state.
Guide: docs/courses.md.
"""

from migrant_linkage.courses.catalogue import Catalogue, example_catalogue_path, read_catalogue
from migrant_linkage.courses.crosswalk import CrosswalkResult, map_titles, read_titles
from migrant_linkage.courses.files import CourseFileError
from migrant_linkage.courses.mappings import (
    MappingUpdate,
    decisions_from_review,
    read_mappings,
    remember,
)
from migrant_linkage.courses.normalize import normalize_title, normalize_titles

__all__ = [
    "Catalogue",
    "CourseFileError",
    "CrosswalkResult",
    "MappingUpdate",
    "decisions_from_review",
    "example_catalogue_path",
    "map_titles",
    "normalize_title",
    "normalize_titles",
    "read_catalogue",
    "read_mappings",
    "read_titles",
    "remember",
]
