"""Search the master index: any subset of names, birth date, parents, state and IDs in, ranked
candidate students out, each with its match weight, grade and the evidence per comparison.

Two steps per query, neither of which reads the whole index:

1. **Candidates from keys.** Every active record has a handful of search keys in the
   ``search_keys`` table (an ART index on the key): the canonical given name with each surname,
   the same with phonetic codes (BENITEZ / VENITEZ, LAURA / LORA), the birth date (and its
   day-month transposition), the MSIX ID, the state student ID, both parents' given names,
   and, for a query that has nothing else, the given name or the phonetic surname alone. The
   query, standardized by the upload's functions (review/query.py), gets the same keys
   (`query_keys`, checked against `keys_sql`); the records sharing most keys come first, up to
   MAX_CANDIDATES. (The birth date alone is such a broad key: a date-only query lists the
   children born that day; otherwise the date counts with a name's first letter.) The keys
   are written when a record is uploaded (`refresh`, called inside the upload's transaction),
   so they are never behind the records.
2. **Score with the index's own model.** The candidates' compared columns come from a copy
   held in memory per index (review/candidates.py), as do the keys and each record's student
   (review/held_keys.py: loaded beside the searches, which read the index tables meanwhile;
   merges, splits and undo move the held students by their audit rows). The candidates and the query are compared with the model's own level
   conditions and weights as Splink's predict computes them (review/fast_score.py, tested
   against Splink's `score_pairs` over every candidate pair; `through_splink=True` runs
   Splink's SQL itself) and routed by `zones.Routing`, so a pair gets the weight, zone and
   grade an upload would give it. Term frequencies come from ``search_term_frequencies``,
   computed over the active records at each upload, so a common name weighs what it weighs in
   an upload.

A field the query leaves out is null on the query side, which every comparison scores as its
null level (weight 0): a birth-date-only query ranks by the birth date and nothing else.

Results are students (a student's best record speaks for it), paged. Nothing here logs or raises
with a name or a birth date; errors name the fields.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from migrant_linkage.db import make_db_api, quote_identifier
from migrant_linkage.levels import ModelLevels, frequency_column
from migrant_linkage.review.candidates import IndexColumns, columns_for, new_token
from migrant_linkage.review.fast_score import CompactScorer, pairs_table
from migrant_linkage.review.held_keys import HeldKeys, HeldStudents, held_for
from migrant_linkage.review.query import NOT_COMPUTED, standardized_values
from migrant_linkage.review.search_fields import QUERY_FIELDS
from migrant_linkage.review.store import ReviewError
from migrant_linkage.schema import RAW_COLUMNS_COMPARED, SCORED_COLUMN_NAMES, UNIQUE_ID_COLUMN
from migrant_linkage.zones import Routing, Thresholds

KEYS_TABLE = "search_keys"
#: Bumped whenever SEARCH_KEYS changes: keys built by another version are rebuilt (`ensure`).
KEYS_VERSION = "3"
FREQUENCIES_TABLE = "search_term_frequencies"

#: At most this many records are scored per query (the records sharing most keys first).
MAX_CANDIDATES = 500
#: Results per page unless asked otherwise, and the most a page may hold.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

#: The key families: (kind, parts joined into one key). A part is a standardized column, or
#: (column, n) for its first n letters. A kind may appear more than once (given name with the
#: paternal, then with the maternal surname): a query's key then finds a record through either.
#: Keys are built only when every part has a value.
KeyPart = str | tuple[str, int]
SEARCH_KEYS: tuple[tuple[str, tuple[KeyPart, ...]], ...] = (
    ("name", ("given_name_1_canonical", "surname_paternal")),
    ("name", ("given_name_1_canonical", "surname_maternal")),
    ("sound", ("given_name_1_phonetic", "surname_paternal_phonetic")),
    ("sound", ("given_name_1_phonetic", "surname_maternal_phonetic")),
    # A birth date with a name's first letter: the child whose names were both misspelt,
    # without every child born that day (about 300 at a million records).
    ("dob_given", ("birth_date_std", ("given_name_1_canonical", 1))),
    ("dob_given", ("birth_date_transposed", ("given_name_1_canonical", 1))),
    ("dob_surname", ("birth_date_std", ("surname_paternal", 1))),
    ("dob_surname", ("birth_date_transposed", ("surname_paternal", 1))),
    ("dob_surname", ("birth_date_std", ("surname_maternal", 1))),
    ("msix", ("msix_id_std",)),
    ("sid", ("state_std", "state_student_id_std")),
    # Both parents' given names with the phonetic surname: MARIA and JOSE alone are the
    # parents of thousands of children at a million records.
    ("parents", ("parent_given_a", "parent_given_b", "surname_paternal_phonetic")),
    ("dob", ("birth_date_std",)),
    ("dob", ("birth_date_transposed",)),  # a day-month swap finds the date keyed the other way
    ("given", ("given_name_1_canonical",)),
    ("surname", ("surname_paternal_phonetic",)),
    ("surname", ("surname_maternal_phonetic",)),
)
#: Kinds whose blocks grow with the population (every MARIA, every GARCIA, every child born on
#: one day): used only when the query has no other key, so "JOSE GARCIA 2014-03-07" is found
#: by its name and date keys, not by every JOSE or every child born that day.
BROAD_KINDS = frozenset({"given", "surname", "dob"})

#: The query's record id inside the scoring session (never a record key: those hold a colon).
QUERY_ID = "query"
#: The compact scorer's scored pairs as registered for the routing, and its prepared statement.
SCORED_PAIRS_TABLE = "ml_search_scored_pairs"
PAIR_SESSION_SKIPS = ("common_subexpressions", "expression_rewriter", "statistics_propagation")
ROUTING_STATEMENT = "ml_search_routing"


class SearchError(ReviewError):
    """A query the index cannot run as given; the message names the fields, never values."""


# ---------------------------------------------------------------------------------------------
# Keys and term frequencies, maintained inside upload transactions
# ---------------------------------------------------------------------------------------------


def keys_sql(table: str, key_column: str = "record_key") -> str:
    """(record_key, key) rows for every record of `table` (an internal table name): one row per
    key family whose columns all have a value. The same SQL keys the index and the query."""
    parts = []
    for kind, key_parts in SEARCH_KEYS:
        columns = [p if isinstance(p, str) else p[0] for p in key_parts]
        values = ", ".join(
            f"CAST({quote_identifier(p)} AS VARCHAR)"
            if isinstance(p, str)
            else f"substr({quote_identifier(p[0])}, 1, {int(p[1])})"
            for p in key_parts
        )
        present = " AND ".join(f"{quote_identifier(c)} IS NOT NULL" for c in columns)
        parts.append(
            f"SELECT {key_column} AS record_key, '{kind}:' || concat_ws('|', {values}) AS key "
            f"FROM {table} WHERE {present}"
        )
    return "SELECT DISTINCT record_key, key FROM (" + " UNION ALL ".join(parts) + ")"


def query_keys(values: Mapping[str, Any]) -> list[str]:
    """The keys of one query's standardized values, sorted: what keys_sql gives for a table
    holding that one row (built in Python, as a one-row SQL query costs a turn in the scoring
    session; tests/test_search_query.py checks they agree)."""
    keys = set()
    for kind, key_parts in SEARCH_KEYS:
        parts = [values.get(p if isinstance(p, str) else p[0]) for p in key_parts]
        if all(v is not None for v in parts):
            text = [
                str(v) if isinstance(p, str) else str(v)[: int(p[1])]
                for p, v in zip(key_parts, parts, strict=True)
            ]
            keys.add(f"{kind}:" + "|".join(text))
    return sorted(keys)


def term_frequency_columns(model: Any) -> list[str]:
    return ModelLevels.of_model(model).term_frequency_columns()


def _tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    names = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name IN (?, ?)",
            [KEYS_TABLE, FREQUENCIES_TABLE],
        ).fetchall()
    }
    return names == {KEYS_TABLE, FREQUENCIES_TABLE}


def refresh(con: duckdb.DuckDBPyConnection, upload_id: int | None = None) -> None:
    """Bring the search keys and term frequencies up to date inside the caller's transaction:
    the keys of the records uploaded in `upload_id` (all active records when None or when the
    tables are new), and the term frequencies over all active records (one GROUP BY per
    compared column: the counts an upload's scoring would see)."""
    if not _tables_exist(con):
        con.execute(f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (record_key VARCHAR, key VARCHAR)")
        con.execute(f"CREATE INDEX IF NOT EXISTS {KEYS_TABLE}_key ON {KEYS_TABLE} (key)")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {FREQUENCIES_TABLE} "
            "(column_name VARCHAR, value VARCHAR, tf DOUBLE, share DOUBLE)"
        )
        upload_id = None
    if upload_id is None or not ensure(con):  # new tables, or keys of another version
        upload_id = None
        con.execute(f"DELETE FROM {KEYS_TABLE}")
        con.execute(
            "INSERT INTO meta VALUES ('search_keys_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [KEYS_VERSION],
        )
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _search_keyed AS SELECT * FROM records WHERE active"
        )
    else:
        con.execute(
            f"DELETE FROM {KEYS_TABLE} WHERE record_key IN "
            "(SELECT record_key FROM records WHERE uploaded_in = ?)",
            [int(upload_id)],
        )
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _search_keyed AS SELECT * FROM records "
            f"WHERE active AND uploaded_in = {int(upload_id)}"
        )
    con.execute(f"INSERT INTO {KEYS_TABLE} {keys_sql('_search_keyed')}")
    con.execute("DROP VIEW _search_keyed")
    _refresh_frequencies(con)
    new_token(con)  # the in-memory copies of the records follow (candidates.py)


def _refresh_frequencies(con: duckdb.DuckDBPyConnection) -> None:
    from migrant_linkage.model import Model

    text = con.execute("SELECT value FROM meta WHERE key = 'model_json'").fetchall()
    model = Model(json.loads(text[0][0])) if text and text[0][0] else Model.default()
    con.execute(f"DELETE FROM {FREQUENCIES_TABLE}")
    for column in term_frequency_columns(model):
        c = quote_identifier(column)
        # tf as Splink computes it (share among non-null values); share as
        # pipeline.scoring.add_frequency_columns computes it (share among all records).
        con.execute(
            f"""INSERT INTO {FREQUENCIES_TABLE}
            SELECT ?, CAST({c} AS VARCHAR), count(*) / sum(count(*)) OVER (),
                   count(*) / (SELECT count(*) FROM records WHERE active)
            FROM records WHERE active AND {c} IS NOT NULL GROUP BY {c}""",
            [column],
        )


def ensure(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the search tables exist with keys of this KEYS_VERSION (an index made before
    search, or keyed by another version: `refresh` with upload_id=None rebuilds them)."""
    if not _tables_exist(con):
        return False
    rows = con.execute("SELECT value FROM meta WHERE key = 'search_keys_version'").fetchall()
    return bool(rows) and rows[0][0] == KEYS_VERSION


# ---------------------------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------------------------


def query_values(query: Mapping[str, Any], *, strict_dates: bool = True) -> dict[str, Any]:
    """The standardized values of the caller's fields (the record contract's names), derived by
    the upload's standardization functions (review/query.py), without the reject rules: a query
    may lack a name. With `strict_dates`, a birth date that does not parse is an error (a person
    typed it); without, it is left out, as an upload keeps such a record with a flag (a system
    sent it)."""
    unknown = sorted(set(query) - set(QUERY_FIELDS))
    if unknown:
        raise SearchError(
            f"unknown search fields {unknown}; the fields are {', '.join(QUERY_FIELDS)}"
        )
    given = {k: str(v).strip() for k, v in query.items() if v is not None and str(v).strip()}
    if not given:
        raise SearchError(f"a search needs at least one of: {', '.join(QUERY_FIELDS)}")
    values = standardized_values(given, "search")
    if strict_dates and "birth_date" in given and values["birth_date_std"] is None:
        raise SearchError("birth_date: not a date (use YYYY-MM-DD or MM/DD/YYYY)")
    for column in RAW_COLUMNS_COMPARED:  # a level may read the field as keyed (schema.py)
        values.setdefault(column, given.get(column))
    values[UNIQUE_ID_COLUMN] = QUERY_ID
    return values


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One candidate student: its best-scoring record and that record's evidence."""

    student_id: str
    record_key: str
    state: str
    match_weight: float
    match_probability: float
    zone: str
    grade: str | None
    guard_reason: str | None
    records: int
    evidence: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "record_key": self.record_key,
            "state": self.state,
            "match_weight": self.match_weight,
            "match_probability": self.match_probability,
            "zone": self.zone,
            "grade": self.grade,
            "guard_reason": self.guard_reason,
            "records_matched": self.records,
            "evidence": self.evidence,
        }


@dataclass
class SearchResult:
    candidates: list[Candidate]
    page: int
    page_size: int
    total: int  # candidate students found (all pages)
    records_scored: int
    truncated: bool  # the keys found more than MAX_CANDIDATES records
    keys: list[str] = field(default_factory=list)  # the key kinds the query had
    #: Milliseconds per step (benchmarks/service.py reports them); not part of the answer.
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    #: Every scored pair as routed (the query is record_id_l), before the state's students are
    #: ranked and paged; not part of the answer.
    pairs: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "page_size": self.page_size,
            "total": self.total,
            "records_scored": self.records_scored,
            "truncated": self.truncated,
            "key_kinds": self.keys,
            "candidates": [c.as_dict() for c in self.candidates],
        }


# ---------------------------------------------------------------------------------------------
# The searcher: one Splink session per model, reused across queries
# ---------------------------------------------------------------------------------------------


class Searcher:
    """Scores queries against candidate records with one model. Build once (the Splink session
    opens on first use), call `search` many times; thread-safe (queries take turns in the
    session; each caller brings its own connection to the index)."""

    def __init__(self, model: Any, thresholds: Thresholds, *, through_splink: bool = False):
        self.model = model
        # Routed as an upload is: the model's prior can lower the match weight.
        self.thresholds = thresholds.given_prior(model.prior_weight())
        #: Score with Splink's own `score_pairs` SQL (the reference the compact scorer of
        #: review/fast_score.py is tested against) instead of the compact statement.
        self.through_splink = through_splink
        self.levels = ModelLevels.of_model(model)
        self.labels = {name: self.levels.descriptions(name) for name in self.levels.names}
        self._tf = term_frequency_columns(model)
        self._lock = threading.Lock()
        self._session: Any = None
        self._types: list[tuple[str, str]] = []
        self._routed_for: int | None = None
        self._routed_sql = ""
        self._routing_reads: list[str] = []
        self._scorer: CompactScorer | None = None
        self._routing_prepared_for: int | None = None
        self._held: tuple[str, ...] = ()

    # ---------------------------------------------------------------- the Splink session
    def _settings(self) -> dict[str, Any]:
        from migrant_linkage.pipeline.scoring import scoring_settings

        settings = scoring_settings(self.model, [], lean=False)
        settings["retain_intermediate_calculation_columns"] = True  # mw_ columns: evidence
        settings["retain_matching_columns"] = True
        return settings

    def _open(self) -> None:
        from splink import Linker

        from migrant_linkage.model import quiet_splink
        from migrant_linkage.schema import STANDARDIZED_COLUMNS

        quiet_splink()
        db_api, con = make_db_api()
        types = {c.name: c.sql_type for c in STANDARDIZED_COLUMNS}
        columns = [
            UNIQUE_ID_COLUMN,
            *[c for c in SCORED_COLUMN_NAMES if c != UNIQUE_ID_COLUMN],
        ]
        typed = [(c, types.get(c, "VARCHAR")) for c in columns]
        typed += [(f"tf_{c}", "DOUBLE") for c in self._tf]
        typed += [(frequency_column(c), "DOUBLE") for c in self._tf]
        self._types = typed
        body = ", ".join(f"{quote_identifier(c)} {t}" for c, t in typed)
        for name in ("ml_search_template", "ml_search_query", "ml_search_records"):
            con.execute(f"CREATE TABLE {name} ({body})")
        template = db_api.register("ml_search_template", dataset_display_name="search")
        linker = Linker(template, copy.deepcopy(self._settings()), log_level=None)
        con.execute(f"CREATE VIEW ml_search_scored AS {_scoring_sql(linker, db_api)}")
        self._scorer = CompactScorer(linker)
        if not self.through_splink:
            # Rewrites that pay off over many rows, not over a query's few hundred pairs: they
            # took about a fifth of planning the compact scorer's statements, on every call.
            con.execute(f"SET disabled_optimizers = '{','.join(PAIR_SESSION_SKIPS)}'")
        self._session = con
        self._weights = self._weight_columns()
        self._held = self._compared_columns()

    def _compared_columns(self) -> tuple[str, ...]:
        """The standardized columns the scoring and routing SQL read (the candidates' values
        that can change a result): the in-memory copy holds only these (candidates.py)."""
        routing = Routing(self.levels, self.thresholds, population=1)
        extra = [*self.levels.gamma_columns(), *self._weights]
        named: set[str] = set()
        for sql in (
            self._view_sql("ml_search_scored"),
            routing.routed_pairs_sql("ml_search_scored", extra),
        ):
            named |= _columns_named(sql)
        held = tuple(
            c
            for c in SCORED_COLUMN_NAMES
            if c != UNIQUE_ID_COLUMN and ({c, f"{c}_l", f"{c}_r"} & named)
        )
        keyed = {p if isinstance(p, str) else p[0] for _, parts in SEARCH_KEYS for p in parts}
        missing = sorted(set(NOT_COMPUTED) & (set(held) | keyed))
        if missing:  # review/query.py leaves these out of a query: it must compute them now
            raise RuntimeError(f"the model compares {missing}, which a search query lacks")
        return held

    def _view_sql(self, view: str) -> str:
        return self._session.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = ?", [view]
        ).fetchall()[0][0]

    def _weight_columns(self) -> list[str]:
        available = {r[0] for r in self._session.execute("DESCRIBE ml_search_scored").fetchall()}
        weights = []
        for n in self.levels.names:  # Splink writes per-comparison match weights (log2 factors)
            parts = [f"mw_{n}"] + ([f"mw_tf_adj_{n}"] if f"mw_tf_adj_{n}" in available else [])
            weights.append(" + ".join(f"coalesce({p}, 0.0)" for p in parts) + f" AS weight_{n}")
        return weights

    def _route(self, population: int) -> None:
        """The routed view over the scored pairs: zones and guards as an upload routes them,
        the namesake check counting this population (rebuilt when the population changes)."""
        if self._routed_for == population:
            return
        routing = Routing(self.levels, self.thresholds, population=population)
        extra = [*self.levels.gamma_columns(), *self._weights]
        if self.through_splink:
            self._session.execute(
                "CREATE OR REPLACE VIEW ml_search_routed AS "
                + routing.routed_pairs_sql("ml_search_scored", extra)
            )
        else:  # over the compact scorer's pairs, registered per query
            self._routed_sql = routing.routed_pairs_sql(SCORED_PAIRS_TABLE, extra)
            self._routing_reads = sorted(_columns_named(self._routed_sql))
        self._routed_for = population

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None

    # ---------------------------------------------------------------- one query
    def search(
        self,
        con: duckdb.DuckDBPyConnection,
        query: Mapping[str, Any],
        *,
        index_path: str | Path,
        state: str | None = None,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        include_non_matches: bool = True,
        strict_dates: bool = True,
    ) -> SearchResult:
        """Ranked candidate students for `query` (fields of QUERY_FIELDS). `state` keeps only
        records sent by that state. `con` is a connection to the index at `index_path` (read
        only); the index's compared columns are held in memory per index (candidates.py)."""
        if page < 1:
            raise SearchError("page: must be 1 or more")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SearchError(f"page_size: must be between 1 and {MAX_PAGE_SIZE}")
        clock = _Laps()
        values = query_values(query, strict_dates=strict_dates)
        clock.lap("standardize the query")
        if not ensure(con):
            if con.execute("SELECT count(*) FROM records").fetchall()[0][0] == 0:
                return SearchResult([], page, page_size, 0, 0, False, [])
            raise SearchError(
                "this index has no search keys yet; run `migrant-linkage index search "
                "--build-keys --index FILE` once (any upload builds them too)"
            )
        # The session holds one query's rows at a time, so its steps take turns; the reads from
        # the index (key look-ups, the candidates' students) and from the in-memory copy run
        # outside that turn, beside other callers' queries.
        with self._lock:
            if self._session is None:
                self._open()
        held = columns_for(con, index_path, self._held, self._tf, FREQUENCIES_TABLE)
        row = self._query_row(values, held)
        keys = query_keys(values)
        kinds = sorted({k.split(":", 1)[0] for k in keys})
        narrow = [k for k in keys if k.split(":", 1)[0] not in BROAD_KINDS]
        chosen = narrow or keys
        if not chosen:
            raise SearchError(
                "the query has nothing to search by: give a name, a birth date, parents' "
                "names or an ID"
            )
        clock.lap("keys, term frequencies, copy check")
        table, truncated = self._fetch_candidates(con, index_path, chosen, state, held, clock)
        if table is None or table.num_rows == 0:
            return SearchResult([], page, page_size, 0, 0, False, kinds)
        if self.through_splink:
            pairs = self._score_through_splink(row, table, held.population, clock)
        else:
            pairs = self._score_compact(row, table, held.population, clock)
        # score_pairs puts the query on the left; the candidate is the right-hand record.
        where = dict(
            zip(
                table.column("record_key").to_pylist(),
                zip(
                    table.column("submitting_state").to_pylist(),
                    table.column("student_id").to_pylist(),
                    strict=True,
                ),
                strict=True,
            )
        )
        scored = pairs
        if not include_non_matches:
            pairs = [p for p in pairs if p["zone"] != "non_match"]
        result = self._page(pairs, where, page, page_size, truncated, kinds)
        clock.lap("rank and page")
        result.timings = clock.laps
        result.pairs = scored
        return result

    def _score_compact(
        self, row: list[Any], table: pa.Table, population: int, clock: _Laps
    ) -> list[dict[str, Any]]:
        """The routed pairs of the query row and the candidates, by the compact scorer
        (review/fast_score.py): the gammas and the routing run in the session, as two short
        statements over the pairs registered as an Arrow table (no rows written)."""
        present = set(table.column_names)
        compared = [c for c, _ in self._types if c in present and c != UNIQUE_ID_COLUMN]
        query_row = dict(zip([c for c, _ in self._types], row, strict=True))
        pairs = pairs_table(query_row, table, compared, UNIQUE_ID_COLUMN)
        clock.lap("pairs as Arrow columns")
        with self._lock:
            clock.lap("wait for the scoring session")
            assert self._scorer is not None
            self._route(population)
            scored = self._scorer.score(self._session, pairs)
            clock.lap("levels and weights (gamma SQL, weights in numpy)")
            # Only the columns the routing names: its CTEs select *, and DuckDB binds every
            # column of the table at each call (its answer names its columns).
            reads = [c for c in scored.column_names if c in self._routing_reads]
            self._session.register(SCORED_PAIRS_TABLE, scored.select(reads))
            try:
                if self._routing_prepared_for != population:  # see CompactScorer.prepare
                    if self._routing_prepared_for is not None:
                        self._session.execute(f"DEALLOCATE {ROUTING_STATEMENT}")
                    self._session.execute(f"PREPARE {ROUTING_STATEMENT} AS {self._routed_sql}")
                    self._routing_prepared_for = population
                result = self._session.execute(f"EXECUTE {ROUTING_STATEMENT}")
                names = [d[0] for d in result.description]
                rows = result.fetchall()
            finally:
                self._session.unregister(SCORED_PAIRS_TABLE)
            clock.lap("routing SQL")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def _score_through_splink(
        self, row: list[Any], table: pa.Table, population: int, clock: _Laps
    ) -> list[dict[str, Any]]:
        """The routed pairs by Splink's own score_pairs SQL (the reference path)."""
        with self._lock:
            clock.lap("wait for the scoring session")
            self._insert_query(row)
            self._insert_candidates(table)
            clock.lap("rows into the scoring session")
            self._route(population)
            scored = self._session.execute("SELECT * FROM ml_search_routed")
            names = [d[0] for d in scored.description]
            pairs = [dict(zip(names, r, strict=True)) for r in scored.fetchall()]
            clock.lap("scoring and routing SQL")
        return pairs

    def _query_row(self, values: Mapping[str, Any], held: IndexColumns) -> list[Any]:
        """The query row's values in the session's column order, with the index's term
        frequencies of its values (from the in-memory copy; the session is not touched)."""
        row = {c: values.get(c) for c, _ in self._types}
        for column in self._tf:
            if row.get(column) is not None:
                tf, share = held.frequency(column, str(row[column]))
                row["tf_" + column], row[frequency_column(column)] = tf, share
        return [row[c] for c, _ in self._types]

    def _insert_query(self, row: list[Any]) -> None:
        """The query row into the session (one parameterised INSERT: a one-row frame registered
        with DuckDB costs more). The caller holds the session's lock."""
        placeholders = ", ".join(f"CAST(? AS {t})" for _, t in self._types)
        self._session.execute("DELETE FROM ml_search_query")
        self._session.execute(f"INSERT INTO ml_search_query VALUES ({placeholders})", row)

    def _fetch_candidates(
        self,
        con: duckdb.DuckDBPyConnection,
        index_path: str | Path,
        keys: list[str],
        state: str | None,
        held: IndexColumns,
        clock: _Laps,
    ) -> tuple[Any, bool]:
        """The active records sharing most keys with the query (at most MAX_CANDIDATES), with
        their term frequencies and students, as an Arrow table (None when no record shares a
        key), and whether more matched. The session is not touched."""
        held_copy = held_for(con, index_path, KEYS_TABLE)
        clock.lap("copies of the keys and students checked")
        if held_copy is None:  # being loaded: the same answer from the index tables
            students, truncated = _candidates_from_index(con, keys, state, clock)
        else:
            students, truncated = _candidates_held(*held_copy, keys, state, clock)
        if not students:
            return None, False
        active = sorted(students)
        table = held.take(active, self._tf)
        table = table.add_column(0, UNIQUE_ID_COLUMN, table.column("record_key"))
        table = table.append_column(
            "student_id", pa.array([students[k] for k in active], pa.string())
        )
        clock.lap("candidates' columns from the copy")
        return table, truncated

    def _insert_candidates(self, table: Any) -> None:
        """The candidates' rows into the session's records table (the columns the scoring
        reads; the others stay null). The caller holds the lock."""
        session = self._session
        present = set(table.column_names)
        columns = ", ".join(quote_identifier(c) for c, _ in self._types if c in present)
        session.register("_candidates", table)
        session.execute("DELETE FROM ml_search_records")
        session.execute(
            f"INSERT INTO ml_search_records ({columns}) SELECT {columns} FROM _candidates"
        )
        session.unregister("_candidates")

    def _page(
        self,
        pairs: list[dict[str, Any]],
        where: Mapping[str, tuple[str, str]],
        page: int,
        page_size: int,
        truncated: bool,
        kinds: list[str],
    ) -> SearchResult:
        """One page of students, each by its best pair (highest weight, then record key), from
        the scored pairs (at most MAX_CANDIDATES: plain Python is quicker than a frame here).
        `where` gives each candidate record's (submitting state, student)."""
        pairs = sorted(pairs, key=lambda p: (-p["match_weight"], p["record_id_r"]))
        best: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for p in pairs:
            student = where[p["record_id_r"]][1]
            best.setdefault(student, p)
            counts[student] = counts.get(student, 0) + 1
        start = (page - 1) * page_size
        shown = list(best.items())[start : start + page_size]
        result = [
            Candidate(
                student_id=str(student),
                record_key=str(r["record_id_r"]),
                state=str(where[r["record_id_r"]][0]),
                match_weight=_finite(r["match_weight"]),
                match_probability=_finite(r["match_probability"]),
                zone=str(r["zone"]),
                grade=None if r["grade"] is None else str(r["grade"]),
                guard_reason=None if r["guard_reason"] is None else str(r["guard_reason"]),
                records=counts[student],
                evidence=self._evidence(r),
            )
            for student, r in shown
        ]
        return SearchResult(result, page, page_size, len(best), len(where), truncated, kinds)

    def _evidence(self, row: Mapping[Any, Any]) -> list[dict[str, Any]]:
        return [
            {
                "comparison": name,
                "gamma": int(row[f"gamma_{name}"]),
                "level": self.labels[name].get(int(row[f"gamma_{name}"]), ""),
                "weight": _finite(row[f"weight_{name}"]),
            }
            for name in self.levels.names
        ]


def _candidates_held(
    held_keys: HeldKeys, held_students: HeldStudents, keys: list[str], state: str | None, clock: Any
) -> tuple[dict[str, str], bool]:
    """(record key -> student) of the active records sharing most of `keys` (at most
    MAX_CANDIDATES, `state`'s only when given), and whether more shared a key: from the
    in-memory copies (held_keys.py), as _candidates_from_index reads them from the index."""
    rows, shared = held_keys.sharing(keys)
    clock.lap("key look-up")
    if state:  # the state is the first part of the record key
        prefix = state.strip().upper() + ":"
        starts = pc.starts_with(held_keys.record_keys.take(pa.array(rows)), prefix)
        keep = starts.to_numpy(zero_copy_only=False)
        rows, shared = rows[keep], shared[keep]
    # Most keys shared first, then by record key (rows are in record-key order).
    ranked = rows[np.lexsort((rows, -shared))]
    truncated = len(ranked) > MAX_CANDIDATES
    chosen = np.sort(ranked[:MAX_CANDIDATES])
    student_of = held_students.students[chosen]
    # None: the record has no active version (replaced by a later upload).
    found = chosen[np.fromiter((s is not None for s in student_of), bool, len(chosen))]
    record_keys = held_keys.record_keys.take(pa.array(found, pa.int32())).to_pylist()
    students = dict(zip(record_keys, held_students.students[found].tolist(), strict=True))
    clock.lap("students of the candidates")
    return students, truncated


def _candidates_from_index(
    con: duckdb.DuckDBPyConnection, keys: list[str], state: str | None, clock: Any
) -> tuple[dict[str, str], bool]:
    """What _candidates_held gives, read from the index by two ART look-ups (while the copies
    are loaded): the keys (an IN list of parameters, which DuckDB answers from the index; a
    join or an IN subquery scans the table), then the chosen records' students."""
    hits = con.execute(
        f"SELECT record_key, count(*) AS keys_shared FROM {KEYS_TABLE} "
        f"WHERE key IN ({', '.join('?' for _ in keys)}) GROUP BY record_key",
        keys,
    ).fetchall()
    clock.lap("key look-up")
    shared = dict(hits)
    if state:  # the state is the first part of the record key
        prefix = state.strip().upper() + ":"
        shared = {k: n for k, n in shared.items() if k.startswith(prefix)}
    ranked = sorted(shared, key=lambda k: (-shared[k], k))
    truncated = len(ranked) > MAX_CANDIDATES
    chosen = ranked[:MAX_CANDIDATES]
    if not chosen:
        return {}, False
    students = dict(
        con.execute(
            "SELECT record_key, student_id FROM records "
            f"WHERE record_key IN ({', '.join('?' for _ in chosen)}) AND active",
            chosen,
        ).fetchall()
    )
    clock.lap("students of the candidates")
    return students, truncated


def _columns_named(sql: str) -> set[str]:
    """The column names a DuckDB statement refers to."""
    import sqlglot
    from sqlglot import exp

    return {c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}


def _scoring_sql(linker: Any, db_api: Any) -> str:
    """The SQL Splink's `score_pairs` runs for ml_search_query x ml_search_records, captured once.

    Splink renders a model's comparisons to SQL through sqlglot, which takes most of a second
    per call; the SQL depends only on the settings and the two table names, so it is rendered
    once (on the empty tables) and kept as a view. It is Splink's own SQL: the same
    comparisons, weights and term-frequency adjustments (from the tf_ columns) as an upload."""
    left = db_api.table_to_splink_dataframe("ml_search_query", "ml_search_query")
    right = db_api.table_to_splink_dataframe("ml_search_records", "ml_search_records")
    captured: list[str] = []
    run = db_api.sql_pipeline_to_splink_dataframe

    def capture(pipeline: Any) -> Any:
        captured.append(pipeline.generate_cte_pipeline_sql())
        return run(pipeline)

    db_api.sql_pipeline_to_splink_dataframe = capture
    try:
        scored = linker.inference.score_pairs(left, right)
    finally:
        del db_api.sql_pipeline_to_splink_dataframe
    scored.drop_table_from_database_and_remove_from_cache()
    # The last pipeline scores; any before it built term-frequency tables from the empty
    # template, which the scoring SQL must not read (the tf_ columns are supplied).
    sql = captured[-1] if captured else ""
    if "gamma_" not in sql or "__splink__df_tf_" in sql:
        raise RuntimeError("Splink's score_pairs ran an unexpected pipeline; cannot search")
    return sql


class _Laps:
    """Milliseconds per named step of one search, in order."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 2)
        self._last = now


def _finite(value: Any) -> float:
    number = math.nan if value is None else float(value)
    return round(number, 4) if math.isfinite(number) else number


# ---------------------------------------------------------------------------------------------
# The library entry points
# ---------------------------------------------------------------------------------------------

_SEARCHERS: dict[tuple[str, str], Searcher] = {}
_SEARCHERS_LOCK = threading.Lock()


def searcher_for(index: Any, con: duckdb.DuckDBPyConnection | None = None) -> Searcher:
    """The Searcher for an index's current model and thresholds (one per model, kept: its
    Splink session is reused by every later query). `con`: a connection to the index already
    open (one is opened otherwise)."""
    from migrant_linkage.model import Model

    if con is None:
        with index._read() as own:
            return searcher_for(index, own)
    settings = dict(
        con.execute(
            "SELECT key, value FROM meta WHERE key IN ('model_json', 'thresholds_json')"
        ).fetchall()
    )
    model_json = settings.get("model_json") or ""
    thresholds_json = settings.get("thresholds_json") or ""
    key = (model_json, thresholds_json)
    with _SEARCHERS_LOCK:
        if key not in _SEARCHERS:
            model = Model(json.loads(model_json)) if model_json else Model.default()
            thresholds = (
                Thresholds(**json.loads(thresholds_json)) if thresholds_json else Thresholds()
            )
            _SEARCHERS[key] = Searcher(model, thresholds)
        return _SEARCHERS[key]


def build_keys(index: Any, *, reviewer: str = "system") -> None:
    """Build the search keys and term frequencies of an index made before search existed
    (uploads keep them up to date afterwards). One write transaction; no audit entry, as no
    record changes."""
    index._write(lambda con: refresh(con, None), "search_keys")


def search(
    index: Any,
    query: Mapping[str, Any],
    *,
    state: str | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    include_non_matches: bool = True,
    strict_dates: bool = True,
) -> SearchResult:
    """Search a MasterIndex: ranked candidate students for `query` (see Searcher.search)."""
    with index._read() as con:
        return searcher_for(index, con).search(
            con,
            query,
            index_path=index.path,
            state=state,
            page=page,
            page_size=page_size,
            include_non_matches=include_non_matches,
            strict_dates=strict_dates,
        )
