"""MasterIndex: the Python API of the master student index.

>>> index = MasterIndex.create("students.duckdb")          # or MasterIndex.open(path)
>>> report = index.upload("tx_2026-11.csv", state="TX", reviewer="ana")
>>> items = index.worklist(state="TX")
>>> index.decide(int(items.item_id[0]), "match", reviewer="ana", comment="same parents")
>>> index.export("students.csv")

Every method that changes the index is one transaction (see store.py): a crash leaves the index
as it was, and reviewers in several processes can decide at the same time. The object holds
only the path and settings; each call opens the file and closes it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.review import audit, reports, survivorship, worklist
from migrant_linkage.review.merge import (
    active_records_of,
    merge_students,
    split_student,
    student_of,
    undo_merge,
)
from migrant_linkage.review.store import (
    DEFAULT_LOCK_TIMEOUT,
    ReviewError,
    create_schema,
    get_meta,
    reading,
    run_in_transaction,
    set_meta,
    transaction,
    utc_now,
    write_audit,
)
from migrant_linkage.review.upload import (
    Snapshot,
    StaleSnapshotError,
    UploadReport,
    prepare,
    read_snapshot,
    write_upload,
)

#: Times an upload scores on a snapshot and finds the index changed before it holds the index
#: for the whole upload (see upload_standardized).
OPTIMISTIC_ATTEMPTS = 3


class MasterIndex:
    """A master student index in one DuckDB file."""

    def __init__(
        self,
        path: str | Path,
        *,
        scorer: Callable[..., Any] | None = None,
        clock: Callable[[], datetime] = utc_now,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ):
        self.path = Path(path)
        self.scorer = scorer
        self.clock = clock
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        two_person_rule: bool = False,
        model: Any = None,
        thresholds: Any = None,
        **options: Any,
    ) -> MasterIndex:
        """Create an empty index file (error if it exists)."""
        path = Path(path)
        if path.exists():
            raise ReviewError(f"{path} already exists; open it with MasterIndex.open")
        settings = {"two_person_rule": "true" if two_person_rule else "false"}
        if model is not None:
            settings["model_json"] = json.dumps(_as_model(model).trained_settings())
        if thresholds is not None:
            settings["thresholds_json"] = json.dumps(_thresholds_dict(thresholds))
        with transaction(
            path, timeout=options.get("lock_timeout", DEFAULT_LOCK_TIMEOUT), create=True
        ) as con:
            create_schema(con, settings)
        return cls(path, **options)

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> MasterIndex:
        """Open an existing index (the file must exist)."""
        index = cls(path, **options)
        with index._read() as con:
            try:
                version = get_meta(con, "schema_version")
            except duckdb.CatalogException:
                version = None
            if version is None:
                raise ReviewError(f"{path} is a DuckDB file but not a master index")
        return index

    def _read(self):
        return reading(self.path, timeout=self.lock_timeout)

    def _write(self, work: Callable[[Any], Any], name: str = "write") -> Any:
        return run_in_transaction(self.path, work, timeout=self.lock_timeout, name=name)

    # ------------------------------------------------------------------------ settings
    @property
    def two_person_rule(self) -> bool:
        with self._read() as con:
            return get_meta(con, "two_person_rule", "false") == "true"

    def set_two_person_rule(self, on: bool, *, reviewer: str) -> None:
        def work(con):
            set_meta(con, "two_person_rule", "true" if on else "false")
            write_audit(
                con,
                actor=reviewer,
                action="settings",
                reason=None,
                details={"two_person_rule": on},
                at=self.clock(),
            )

        self._write(work)

    def model(self):
        """The model uploads score with: the index's own, else the shipped default."""
        from migrant_linkage.model import Model

        with self._read() as con:
            text = get_meta(con, "model_json")
        return Model(json.loads(text)) if text else Model.default()

    def set_model(self, model: Any, *, reviewer: str, reason: str | None = None) -> None:
        settings = _as_model(model).trained_settings()

        def work(con):
            set_meta(con, "model_json", json.dumps(settings))
            write_audit(
                con, actor=reviewer, action="set_model", reason=reason, details={}, at=self.clock()
            )

        self._write(work)

    def thresholds(self):
        from migrant_linkage.zones import Thresholds

        with self._read() as con:
            text = get_meta(con, "thresholds_json")
        return Thresholds(**json.loads(text)) if text else Thresholds()

    # ------------------------------------------------------------------------ upload
    def upload(
        self,
        source: Any,
        *,
        reviewer: str,
        state: str | None = None,
        column_map: dict[str, str] | None = None,
        date_format: str | None = None,
        encoding: str | None = None,
        source_name: str | None = None,
        model: Any = None,
        thresholds: Any = None,
    ) -> UploadReport:
        """Standardize `source` (file path or DataFrame of contract columns) and apply it."""
        from migrant_linkage.standardize import standardize

        name = source_name or (str(source) if isinstance(source, str | Path) else "dataframe")
        result = standardize(
            source,
            column_map=column_map,
            date_format=date_format,
            source_name=name,
            encoding=encoding,
        )
        records_in = int(
            result.counts.get("records_in", len(result.standardized) + len(result.rejects))
        )
        return self.upload_standardized(
            result.standardized,
            rejects=result.rejects,
            reviewer=reviewer,
            state=state,
            source=name,
            model=model,
            thresholds=thresholds,
            records_in=records_in,
        )

    def upload_standardized(
        self,
        standardized: pd.DataFrame,
        *,
        reviewer: str,
        state: str | None = None,
        rejects: pd.DataFrame | None = None,
        source: str = "dataframe",
        model: Any = None,
        thresholds: Any = None,
        records_in: int | None = None,
    ) -> UploadReport:
        """Apply an already standardized table (one transaction)."""
        if not reviewer or not str(reviewer).strip():
            raise ReviewError("an upload needs a reviewer id (who ran it)")
        prepared = prepare(standardized, state)
        rejects = rejects if rejects is not None else pd.DataFrame()
        scorer = self.scorer
        labels = None
        model_json = None
        if scorer is None:
            from migrant_linkage.review.scoring import SplinkScorer

            scorer = SplinkScorer
        if model is not None or self.scorer is None:
            from migrant_linkage.review.scoring import level_labels

            model = _as_model(model) if model is not None else self.model()
            model_json = json.dumps(model.trained_settings())
            labels = level_labels(model)
        thresholds = thresholds if thresholds is not None else self.thresholds()
        at = self.clock()

        options = {
            "source": source,
            "state": state.upper() if state else None,
            "reviewer": str(reviewer),
            "at": at,
            "rejects": rejects,
            "thresholds": thresholds,
            "model_json": model_json,
            "labels": labels,
        }
        n_in = records_in if records_in is not None else len(prepared) + len(rejects)

        def snapshot(con) -> Snapshot:
            return read_snapshot(
                con,
                prepared,
                scorer=scorer,
                model=model,
                thresholds=thresholds,
                records_in=n_in,
                n_rejects=len(rejects),
            )

        # Score without holding the index (reviewers keep working), then write if nothing
        # changed meanwhile; after OPTIMISTIC_ATTEMPTS changed snapshots, hold it throughout.
        for _ in range(OPTIMISTIC_ATTEMPTS):
            with self._read() as con:
                taken = snapshot(con)
            try:
                taken.score()
                return self._write(
                    lambda con, s=taken: write_upload(
                        con, s, prepared, check_revision=True, **options
                    ),
                    "upload",
                )
            except StaleSnapshotError:
                continue
            finally:
                taken.close()

        def locked(con):
            held = snapshot(con)
            try:
                return write_upload(con, held, prepared, check_revision=False, **options)
            finally:
                held.close()

        return self._write(locked, "upload")

    # ------------------------------------------------------------------------ worklist
    def worklist(
        self,
        *,
        state: str | None = None,
        older_than_days: float | None = None,
        status: Sequence[str] = worklist.UNDECIDED,
        limit: int | None = None,
    ) -> pd.DataFrame:
        with self._read() as con:
            return worklist.list_items(
                con,
                now=self.clock(),
                state=state,
                older_than_days=older_than_days,
                status=tuple(status),
                limit=limit,
            )

    def show(self, item_id: int) -> dict[str, Any]:
        with self._read() as con:
            return worklist.show_item(con, int(item_id))

    def decide(
        self, item_id: int, decision: str, *, reviewer: str, comment: str | None = None
    ) -> dict[str, Any]:
        """match / not-a-match / skip. Under the two-person rule "match" only proposes."""

        def work(con):
            rule = get_meta(con, "two_person_rule", "false") == "true"
            return worklist.decide(
                con,
                int(item_id),
                decision,
                reviewer=reviewer,
                comment=comment,
                at=self.clock(),
                two_person_rule=rule,
            )

        return self._write(work, "decide")

    def validate(
        self, pending_id: int, *, reviewer: str, approve: bool = True, comment: str | None = None
    ) -> dict[str, Any]:
        return self._write(
            lambda con: worklist.validate(
                con,
                int(pending_id),
                reviewer=reviewer,
                approve=approve,
                comment=comment,
                at=self.clock(),
            )
        )

    def pending(self) -> pd.DataFrame:
        with self._read() as con:
            return worklist.pending(con)

    # ------------------------------------------------------------------------ merge/split/undo
    def merge(self, *student_ids: str, reviewer: str, reason: str | None = None) -> dict[str, Any]:
        """Merge students by hand into the oldest (lowest ID). Under the two-person rule this
        proposes the merge (two students only) and returns the pending id."""
        if not reviewer:
            raise ReviewError("a reviewer id is required")

        def work(con):
            reps = []
            for sid in sorted(set(student_ids)):
                members = active_records_of(con, sid)
                if not members:
                    raise ReviewError(f"no active records for student {sid}")
                reps.append(members[0])
            if len(reps) < 2:
                raise ReviewError("a merge needs two different students")
            if get_meta(con, "two_person_rule", "false") == "true":
                if len(reps) != 2:
                    raise ReviewError("under the two-person rule, merge two students at a time")
                pending_id = worklist.propose_merge(
                    con, (reps[0], reps[1]), reviewer=reviewer, comment=reason, at=self.clock()
                )
                return {"pending_id": pending_id, "merged": False}
            at = self.clock()
            audit_id, survivor = merge_students(
                con,
                list(student_ids),
                actor=reviewer,
                reason=reason,
                at=at,
                details={"pairs": [[reps[0], r] for r in reps[1:]]},
            )
            for other in reps[1:]:
                worklist._record_decision(
                    con,
                    item_id=None,
                    pair=(reps[0], other),
                    decision="match",
                    reviewer=reviewer,
                    comment=reason,
                    at=at,
                    audit_id=audit_id,
                )
            return {"audit_id": audit_id, "student_id": survivor, "merged": True}

        return self._write(work)

    def split(
        self,
        student_id: str,
        record_keys: Sequence[str],
        *,
        reviewer: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Move `record_keys` out of the student to one new student ID."""
        if not reviewer:
            raise ReviewError("a reviewer id is required")

        def work(con):
            audit_id, new_id = split_student(
                con, student_id, list(record_keys), actor=reviewer, reason=reason, at=self.clock()
            )
            return {"audit_id": audit_id, "student_id": student_id, "new_student_id": new_id}

        return self._write(work)

    def undo(self, audit_id: int, *, reviewer: str, reason: str | None = None) -> dict[str, Any]:
        """Undo the merge (hand, reviewed or automatic) written as audit entry `audit_id`."""
        if not reviewer:
            raise ReviewError("a reviewer id is required")
        return self._write(
            lambda con: {
                "audit_id": undo_merge(
                    con, int(audit_id), actor=reviewer, reason=reason, at=self.clock()
                )
            }
        )

    # ------------------------------------------------------------------------ reading
    def records(self, *, include_inactive: bool = False) -> pd.DataFrame:
        with self._read() as con:
            where = "" if include_inactive else "WHERE active"
            return con.execute(f"SELECT * FROM records {where} ORDER BY record_key, version").df()

    def assignments(self) -> pd.DataFrame:
        """record_key, record_id, state, student_id of every active record."""
        with self._read() as con:
            return con.execute(
                "SELECT record_key, record_id, submitting_state AS state, student_id "
                "FROM records WHERE active ORDER BY record_key"
            ).df()

    def student_of(self, record_key: str) -> str:
        with self._read() as con:
            return student_of(con, record_key)

    def uploads(self) -> pd.DataFrame:
        with self._read() as con:
            return con.execute(
                "SELECT upload_id, started_at, source, submitting_state, reviewer, counts_json "
                "FROM uploads ORDER BY upload_id"
            ).df()

    def decisions(self) -> pd.DataFrame:
        with self._read() as con:
            return con.execute("SELECT * FROM decisions ORDER BY decision_id").df()

    def audit(self, *, limit: int | None = None) -> pd.DataFrame:
        with self._read() as con:
            return audit.entries(con, limit=limit)

    def audit_entry(self, audit_id: int) -> dict[str, Any]:
        with self._read() as con:
            return audit.entry(con, int(audit_id))

    def replay(self) -> pd.DataFrame:
        with self._read() as con:
            return audit.replay(con)

    def check_replay(self) -> bool:
        with self._read() as con:
            return audit.check_replay(con)

    def consolidated(self) -> pd.DataFrame:
        with self._read() as con:
            return survivorship.consolidated(con)

    # ------------------------------------------------------------------------ reports
    def birth_date_conflicts(self) -> pd.DataFrame:
        with self._read() as con:
            return reports.birth_date_conflicts(con)

    def duplicates_by_state(self) -> pd.DataFrame:
        with self._read() as con:
            return reports.duplicates_by_state(con)

    def duplicate_rate(self) -> float:
        with self._read() as con:
            return reports.duplicate_rate(con)

    def backlog(self) -> pd.DataFrame:
        with self._read() as con:
            return reports.backlog(con, now=self.clock())

    def export(self, out: str | Path, *, consolidated: bool = False) -> Path:
        """Write record_id, state, student_id per record (or one row per student)."""
        from migrant_linkage.io import write_table

        frame = (
            self.consolidated()
            if consolidated
            else self.assignments()[["record_id", "state", "student_id"]]
        )
        return write_table(frame, out)


def _as_model(model: Any):
    from migrant_linkage.model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str | Path):
        return Model.load(model)
    if isinstance(model, dict):
        return Model(model)
    raise ReviewError("model must be a Model, a dict of Splink settings or a JSON file path")


def _thresholds_dict(thresholds: Any) -> dict[str, float]:
    return {
        k: float(getattr(thresholds, k))
        for k in ("match_weight", "review_weight", "strong_disagreement_weight")
    }
