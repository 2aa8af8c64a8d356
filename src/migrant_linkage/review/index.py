"""MasterIndex: the Python API of the master student index.

>>> index = MasterIndex.create("students.duckdb", administrator="admin.tx", administrator_state="TX")
>>> index.add_account("ana.tx", display_name="Ana", role="reviewer", state="TX", actor="admin.tx")
>>> report = index.upload("tx_2026-11.csv", state="TX", actor="ana.tx")
>>> items = index.worklist(actor="ana.tx")
>>> index.decide(int(items.item_id[0]), "match", actor="ana.tx", comment="same parents")
>>> index.export("students.csv")

Every action names its actor: an account id (accounts.py) whose role and scope the index checks
in the same transaction as the action; the audit log records that id.

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
import numpy as np
import pandas as pd

from migrant_linkage.review import (
    accounts,
    audit,
    chain,
    escalation,
    reports,
    survivorship,
    worklist,
)
from migrant_linkage.review.accounts import Account, require, states_of_keys
from migrant_linkage.review.merge import (
    active_records_of,
    merge_students,
    split_student,
    student_of,
    undo_merge,
)
from migrant_linkage.review.store import (
    DEFAULT_LOCK_TIMEOUT,
    SCHEMA_VERSION,
    ReviewError,
    add_missing_record_columns,
    create_schema,
    get_meta,
    missing_record_columns,
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
        administrator: str,
        administrator_name: str | None = None,
        administrator_state: str | None = None,
        two_person_rule: bool = True,
        model: Any = None,
        thresholds: Any = None,
        **options: Any,
    ) -> MasterIndex:
        """Create an empty index file (error if it exists) with its first administrator
        account (`administrator_state` None: every state). The two-person rule is on unless
        `two_person_rule=False`; the creation is the first audit entry and records the choice."""
        path = Path(path)
        if path.exists():
            raise ReviewError(f"{path} already exists; open it with MasterIndex.open")
        admin = accounts.make_account(
            administrator,
            display_name=administrator_name or administrator,
            role="administrator",
            state=administrator_state,
        )
        settings = {"two_person_rule": "true" if two_person_rule else "false"}
        if model is not None:
            settings["model_json"] = json.dumps(_as_model(model).trained_settings())
        if thresholds is not None:
            settings["thresholds_json"] = json.dumps(_thresholds_dict(thresholds))
        with transaction(
            path, timeout=options.get("lock_timeout", DEFAULT_LOCK_TIMEOUT), create=True
        ) as con:
            create_schema(con, settings)
            at = options.get("clock", utc_now)()
            accounts.insert_account(con, admin, created_by=admin.account_id, at=at)
            write_audit(
                con,
                actor=admin.account_id,
                action="create_index",
                reason=None,
                details={
                    "administrator": admin.account_id,
                    "scope": admin.scope,
                    "two_person_rule": two_person_rule,
                    "thresholds": json.loads(settings.get("thresholds_json", "null")),
                    "model": "custom" if model is not None else "shipped default",
                    "model_sha256": audit.model_digest(settings.get("model_json")),
                },
                at=at,
            )
            chain.seal(con)
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
            if version != SCHEMA_VERSION:
                raise ReviewError(
                    f"{path} is a master index of schema {version}, made before reviewer "
                    f"accounts (schema {SCHEMA_VERSION}); create a new index and upload the "
                    "states' files into it"
                )
            missing = missing_record_columns(con)
        if missing:  # an index made before a standardized column was added: derive it once
            index._write(lambda con: add_missing_record_columns(con, missing), name="upgrade")
        return index

    def _read(self):
        return reading(self.path, timeout=self.lock_timeout)

    def _write(self, work: Callable[[Any], Any], name: str = "write") -> Any:
        """Run `work(con)` as one transaction; then, in the same transaction, open the waiting
        items whose records the work unlocked (the one place locks are released)."""

        def unit(con):
            result = work(con)
            worklist.release_waiting(con, at=self.clock())
            return result

        return run_in_transaction(self.path, unit, timeout=self.lock_timeout, name=name)

    # ------------------------------------------------------------------------ settings
    @property
    def two_person_rule(self) -> bool:
        with self._read() as con:
            return get_meta(con, "two_person_rule", "false") == "true"

    # ------------------------------------------------------------------------ accounts
    def add_account(
        self,
        account_id: str,
        *,
        display_name: str,
        role: str,
        state: str | None = None,
        region: str | None = None,
        district: str | None = None,
        actor: str,
    ) -> Account:
        """Add a reviewer account (an administrator's action, audited). The new account's
        scope must lie inside the administrator's: a Texas administrator adds Texas accounts."""
        new = accounts.make_account(
            account_id,
            display_name=display_name,
            role=role,
            state=state,
            region=region,
            district=district,
        )

        def work(con):
            admin = require(con, actor, action="adding an account", role="administrator")
            if not admin.covers_account(new):
                raise accounts.PermissionDeniedError(
                    f"account {admin.account_id} covers {admin.scope}; it cannot add an account "
                    f"for {new.scope}"
                )
            at = self.clock()
            accounts.insert_account(con, new, created_by=admin.account_id, at=at)
            write_audit(
                con,
                actor=admin.account_id,
                action="add_account",
                reason=None,
                details={"account_id": new.account_id, "role": new.role, "scope": new.scope},
                at=at,
            )
            return new

        return self._write(work, "account")

    def deactivate_account(self, account_id: str, *, actor: str, reason: str | None = None) -> None:
        """Stop an account from acting (its past decisions stay, attributed to it)."""

        def work(con):
            admin = require(con, actor, action="deactivating an account", role="administrator")
            target = accounts.get_account(con, account_id)
            if not admin.covers_account(target):
                raise accounts.PermissionDeniedError(
                    f"account {admin.account_id} covers {admin.scope}, not {target.scope}"
                )
            if target.account_id == admin.account_id:
                raise ReviewError("an administrator cannot deactivate their own account")
            con.execute(
                "UPDATE accounts SET active = FALSE WHERE account_id = ?", [target.account_id]
            )
            write_audit(
                con,
                actor=admin.account_id,
                action="deactivate_account",
                reason=reason,
                details={"account_id": target.account_id},
                at=self.clock(),
            )

        self._write(work, "account")

    def account(self, account_id: str) -> Account:
        """The account with this id (normalised: `Maria.CA` finds `maria.ca`)."""
        with self._read() as con:
            return accounts.get_account(con, account_id)

    def accounts(self) -> pd.DataFrame:
        with self._read() as con:
            return accounts.list_accounts(con)

    # ------------------------------------------------------------------------ settings
    def set_two_person_rule(self, on: bool, *, actor: str, reason: str | None = None) -> None:
        """Turn the two-person rule on or off (an index administrator; audited)."""

        def change(con) -> dict[str, Any]:
            set_meta(con, "two_person_rule", "true" if on else "false")
            return {"two_person_rule": on}

        self._change_setting("the two-person rule", change, actor=actor, reason=reason)

    def _change_setting(
        self,
        what: str,
        change: Callable[[Any], dict[str, Any]],
        *,
        actor: str,
        reason: str | None,
    ) -> None:
        """One settings change: an index administrator only, `change(con)` writes the setting
        and returns what the audit entry records, in one transaction."""

        def work(con):
            admin = accounts.require_index_administrator(con, actor, action=f"changing {what}")
            details = change(con)
            write_audit(
                con,
                actor=admin.account_id,
                action="settings",
                reason=reason,
                details=details,
                at=self.clock(),
            )

        self._write(work)

    def model(self):
        """The model uploads score with: the index's own, else the shipped default."""
        from migrant_linkage.model import Model

        with self._read() as con:
            text = get_meta(con, "model_json")
        return Model(json.loads(text)) if text else Model.default()

    def set_model(self, model: Any, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Score future uploads with `model` (an index administrator; audited). Under the
        two-person rule this proposes the change; a second administrator validates it."""
        settings = _as_model(model).trained_settings()

        def work(con):
            admin = accounts.require_index_administrator(con, actor, action="changing the model")
            if _rule(con):
                pending_id = worklist.propose(
                    con,
                    "set_model",
                    pair=None,
                    payload={"settings": settings},
                    reviewer=admin.account_id,
                    comment=reason,
                    at=self.clock(),
                )
                return {"pending_id": pending_id, "changed": False}
            set_meta(con, "model_json", json.dumps(settings))
            write_audit(
                con,
                actor=admin.account_id,
                action="set_model",
                reason=reason,
                details={"model_sha256": audit.model_digest(json.dumps(settings))},
                at=self.clock(),
            )
            return {"changed": True}

        return self._write(work)

    def thresholds(self):
        from migrant_linkage.zones import Thresholds

        with self._read() as con:
            text = get_meta(con, "thresholds_json")
        return Thresholds(**json.loads(text)) if text else Thresholds()

    def zoning_thresholds(self):
        """The thresholds an upload zones with: the administrator's (`thresholds`), with the
        match weight lowered by the prior of the model Splink scores with (`model`; see
        zones.Thresholds.given_prior), as `upload_standardized` does. Worklist grades and batch
        decisions read these, so "probable" means what it meant to the upload that listed the
        item. An index scored by a scorer of its own (tests) uses the thresholds as set."""
        thresholds = self.thresholds()
        if self.scorer is None:
            thresholds = thresholds.given_prior(self.model().prior_weight())
        return thresholds

    def set_thresholds(self, thresholds: Any, *, actor: str, reason: str | None = None) -> None:
        """Zone future uploads with `thresholds` (an index administrator; audited)."""
        values = _thresholds_dict(thresholds)

        def change(con) -> dict[str, Any]:
            before = get_meta(con, "thresholds_json")
            set_meta(con, "thresholds_json", json.dumps(values))
            return {"thresholds": values, "before": json.loads(before) if before else None}

        self._change_setting("the thresholds", change, actor=actor, reason=reason)

    def escalation_days(self) -> dict[str, float]:
        with self._read() as con:
            return escalation.escalation_days(con)

    def set_escalation_days(
        self, days: dict[str, float], *, actor: str, reason: str | None = None
    ) -> None:
        """Days an item waits at each level (district, region, state) before it escalates (an
        index administrator; audited)."""
        try:
            values = escalation.clean_days(days)
        except ValueError as exc:
            raise ReviewError(str(exc)) from None

        def change(con) -> dict[str, Any]:
            merged = {**escalation.escalation_days(con), **values}
            set_meta(con, "escalation_days_json", json.dumps(merged, sort_keys=True))
            return {"escalation_days": merged}

        self._change_setting("the escalation times", change, actor=actor, reason=reason)

    def escalate(self, *, actor: str) -> dict[str, Any]:
        """Run escalation now (docs: daily): items move up a level after the level's time;
        validation items that waited the full time pass automatically (audited as automatic).
        An index administrator runs it."""

        def work(con):
            admin = accounts.require_index_administrator(con, actor, action="running escalation")
            return escalation.run(con, now=self.clock(), run_by=admin.account_id)

        return self._write(work, "escalate")

    # ------------------------------------------------------------------------ upload
    def upload(
        self,
        source: Any,
        *,
        actor: str,
        state: str | None = None,
        column_map: dict[str, str] | None = None,
        date_format: str | None = None,
        encoding: str | None = None,
        source_name: str | None = None,
        model: Any = None,
        thresholds: Any = None,
    ) -> UploadReport:
        """Standardize `source` (file path or DataFrame of contract columns) and apply it.
        `actor`'s scope must cover every record's state. `model` / `thresholds` override the
        index settings for this upload only, which only an index administrator may do."""
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
            actor=actor,
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
        actor: str,
        state: str | None = None,
        rejects: pd.DataFrame | None = None,
        source: str = "dataframe",
        model: Any = None,
        thresholds: Any = None,
        records_in: int | None = None,
    ) -> UploadReport:
        """Apply an already standardized table (one transaction)."""
        prepared = prepare(standardized, state)
        upload_states = sorted(prepared["submitting_state"].unique()) if len(prepared) else []
        override = model is not None or thresholds is not None

        def check(con) -> str:
            if override:
                accounts.require_index_administrator(
                    con, actor, action="overriding the index's model or thresholds for an upload"
                )
            account = require(
                con, actor, action="uploading", states=upload_states, every_state=True
            )
            return account.account_id

        with self._read() as con:
            reviewer = check(con)
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
        if model is not None:  # the model's prior (zones.Thresholds.given_prior)
            thresholds = thresholds.given_prior(model.prior_weight())
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

                def optimistic(con, s=taken):
                    check(con)  # the account may have changed while the upload scored
                    return write_upload(con, s, prepared, check_revision=True, **options)

                return self._write(optimistic, "upload")
            except StaleSnapshotError:
                continue
            finally:
                taken.close()

        def locked(con):
            check(con)
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
        actor: str | None = None,
        state: str | None = None,
        older_than_days: float | None = None,
        status: Sequence[str] = worklist.UNDECIDED,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Undecided items, oldest first (record keys only). With `actor`, only the items in
        that account's scope (an item is in scope when one of its records is)."""
        levels = None
        with self._read() as con:
            if actor is not None:
                account = require(con, actor, action="listing the worklist")
                rank = escalation.LEVELS.index(escalation.account_level(account))
                levels = escalation.LEVELS[: rank + 1]
                if account.state is not None:
                    if state is not None and state.upper() != account.state:
                        raise accounts.PermissionDeniedError(
                            f"account {account.account_id} covers {account.scope}, not {state}"
                        )
                    state = account.state
            return worklist.list_items(
                con,
                now=self.clock(),
                state=state,
                older_than_days=older_than_days,
                status=tuple(status),
                limit=limit,
                levels=levels,
            )

    def show(self, item_id: int, *, actor: str) -> dict[str, Any]:
        """One item for a reviewer's screen (names and birth dates): only within `actor`'s
        scope."""
        with self._read() as con:
            l_key, r_key, _ = worklist._item(con, int(item_id))
            require(
                con, actor, action=f"showing item {item_id}", states=states_of_keys([l_key, r_key])
            )
            return worklist.show_item(con, int(item_id))

    def decide(
        self, item_id: int, decision: str, *, actor: str, comment: str | None = None
    ) -> dict[str, Any]:
        """match / not-a-match / skip. Under the two-person rule "match" only proposes."""

        def work(con):
            l_key, r_key, _ = worklist._item(con, int(item_id))
            account = require(
                con, actor, action=f"deciding item {item_id}", states=states_of_keys([l_key, r_key])
            )
            rule = get_meta(con, "two_person_rule", "false") == "true"
            return worklist.decide(
                con,
                int(item_id),
                decision,
                reviewer=account.account_id,
                comment=comment,
                at=self.clock(),
                two_person_rule=rule,
            )

        return self._write(work, "decide")

    def decide_batch(
        self,
        decision: str,
        *,
        actor: str,
        reason: str | None = None,
        grade: str | None = None,
        min_weight: float | None = None,
        max_weight: float | None = None,
        comment: str | None = None,
        preview: bool = True,
    ) -> pd.DataFrame:
        """Decide every open item of one reason / grade (certain, probable, possible, from the
        index's zoning thresholds) / weight band [min_weight, max_weight) in `actor`'s scope at once.
        With `preview` (the default) nothing changes: the frame lists the items and what the
        decision would do. Otherwise each item is decided as `decide` would (one audit entry
        per item, so each can be undone on its own), in one transaction; the frame's `outcome`
        says what happened to each (an item settled by an earlier one in the batch is
        `resolved`)."""
        decision = worklist.normalise_decision(decision)
        thresholds = self.zoning_thresholds()

        def work(con):
            account = require(con, actor, action="deciding a batch of items")
            items = worklist.list_items(
                con, now=self.clock(), state=account.state, status=("open", "skipped")
            )
            weight = items["match_weight"].astype(float)
            items["grade"] = np.select(
                [weight >= thresholds.match_weight, weight >= thresholds.probable_weight],
                ["certain", "probable"],
                "possible",
            )
            keep = pd.Series(True, index=items.index)
            if reason is not None:
                keep &= items["reason"] == reason
            if grade is not None:
                keep &= items["grade"] == grade
            if min_weight is not None:
                keep &= weight >= min_weight
            if max_weight is not None:
                keep &= weight < max_weight
            chosen = items.loc[keep].reset_index(drop=True)
            rule = _rule(con)
            outcomes = []
            rows = zip(
                chosen["item_id"].astype(int).tolist(),
                chosen["student_l"].astype(str).tolist(),
                chosen["student_r"].astype(str).tolist(),
                strict=True,
            )
            for item_id, student_l, student_r in rows:  # one decision (audit entry) per item
                if preview:
                    outcomes.append(_would(decision, rule, student_l, student_r))
                    continue
                status = worklist._item(con, item_id)[2]
                if status == "resolved":
                    outcomes.append("resolved by an earlier item of the batch")
                    continue
                done = worklist.decide(
                    con,
                    item_id,
                    decision,
                    reviewer=account.account_id,
                    comment=comment,
                    at=self.clock(),
                    two_person_rule=rule,
                )
                outcomes.append(
                    f"proposed (pending {done['pending_id']})"
                    if "pending_id" in done
                    else f"{decision} (audit {done['audit_id']})"
                )
            chosen["outcome"] = outcomes
            columns = ["item_id", "record_key_l", "record_key_r", "match_weight", "grade"]
            return chosen[[*columns, "reason", "outcome"]]

        if preview:
            with self._read() as con:
                return work(con)
        return self._write(work, "batch")

    def item_evidence(self, item_id: int) -> pd.DataFrame:
        """Evidence attached to an item while it was open: one row per upload that changed one
        of its (locked) records, with the weights and evidence before and after."""
        with self._read() as con:
            return con.execute(
                "SELECT * FROM item_evidence WHERE item_id = ? ORDER BY upload_id",
                [int(item_id)],
            ).df()

    def validate(
        self, pending_id: int, *, actor: str, approve: bool = True, comment: str | None = None
    ) -> dict[str, Any]:
        """A validator (not the proposer) approves or rejects a proposed merge."""

        def work(con):
            kind, keys = worklist.pending_kind(con, int(pending_id))
            action = f"validating pending {kind} {pending_id}"
            if kind == "set_model":
                account = accounts.require_index_administrator(con, actor, action=action)
            else:
                account = require(
                    con, actor, action=action, role="validator", states=states_of_keys(keys)
                )
            return worklist.validate(
                con,
                int(pending_id),
                reviewer=account.account_id,
                approve=approve,
                comment=comment,
                at=self.clock(),
            )

        return self._write(work, "validate")

    def pending(self) -> pd.DataFrame:
        with self._read() as con:
            return worklist.pending(con)

    # ------------------------------------------------------------------------ merge/split/undo
    def merge(
        self,
        *student_ids: str,
        actor: str,
        reason: str | None = None,
        reverse_decisions: bool = False,
    ) -> dict[str, Any]:
        """Merge students by hand into the oldest (lowest ID). Under the two-person rule this
        proposes the merge (two students only) and returns the pending id. A pair across the
        students decided "not a match" refuses the merge unless `reverse_decisions` (the
        reversal is recorded, as "match", under the merge's audit entry)."""

        def work(con):
            reps = []
            involved: list[str] = []
            for sid in sorted(set(student_ids)):
                members = active_records_of(con, sid)
                if not members:
                    raise ReviewError(f"no active records for student {sid}")
                reps.append(members[0])
                involved += members
            reviewer = require(
                con, actor, action="merging students", states=states_of_keys(involved)
            ).account_id
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
                reverse_decisions=reverse_decisions,
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
        actor: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Move `record_keys` out of the student to one new student ID."""

        def work(con):
            members = active_records_of(con, student_id)
            reviewer = require(
                con, actor, action=f"splitting student {student_id}", states=states_of_keys(members)
            ).account_id
            if _rule(con):
                leaving = sorted(set(record_keys))
                strangers = [k for k in leaving if k not in set(members)]
                staying = [k for k in members if k not in set(leaving)]
                if strangers or not leaving or not staying:
                    raise ReviewError(
                        f"a split of student {student_id} must move some of its own records "
                        "and leave at least one"
                    )
                pending_id = worklist.propose(
                    con,
                    "split",
                    pair=(leaving[0], staying[0]),
                    payload={"student_id": student_id, "leaving": leaving},
                    reviewer=reviewer,
                    comment=reason,
                    at=self.clock(),
                )
                return {"pending_id": pending_id, "student_id": student_id, "split": False}
            audit_id, new_id = split_student(
                con, student_id, list(record_keys), actor=reviewer, reason=reason, at=self.clock()
            )
            return {"audit_id": audit_id, "student_id": student_id, "new_student_id": new_id}

        return self._write(work)

    def undo(
        self, audit_id: int, *, actor: str, reason: str | None = None, cascade: bool = False
    ) -> dict[str, Any]:
        """Undo the merge (hand, reviewed or automatic) written as audit entry `audit_id`.
        Refuses, naming them, when later entries moved its records; `cascade` undoes later
        merges first."""

        def work(con):
            keys = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT record_key FROM audit_changes WHERE audit_id = ?",
                    [int(audit_id)],
                ).fetchall()
            ]
            reviewer = require(
                con, actor, action=f"undoing audit entry {audit_id}", states=states_of_keys(keys)
            ).account_id
            if _rule(con):
                pending_id = worklist.propose(
                    con,
                    "undo",
                    pair=(keys[0], keys[-1]) if keys else None,
                    payload={"target": int(audit_id), "cascade": cascade},
                    reviewer=reviewer,
                    comment=reason,
                    at=self.clock(),
                )
                return {"pending_id": pending_id, "undone": False}
            return {
                "audit_id": undo_merge(
                    con,
                    int(audit_id),
                    actor=reviewer,
                    reason=reason,
                    at=self.clock(),
                    cascade=cascade,
                )
            }

        return self._write(work, "undo")

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

    def verify_audit(self) -> chain.Verdict:
        """The full check of the audit log: the id sequence, the SHA-256 chain, the settings
        and the replay of every record's student. Names the first entry that fails."""
        with self._read() as con:
            return audit.verify(con)

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


def _would(decision: str, rule: bool, student_l: str, student_r: str) -> str:
    """What deciding an item would do (batch preview)."""
    if decision == "skip":
        return "would skip"
    if decision == "not_a_match":
        return "would remember not a match"
    if rule:
        return "would propose a merge (two-person rule)"
    return f"would merge students {student_l} and {student_r}"


def _rule(con) -> bool:
    """Whether the two-person rule is on (read inside the action's transaction)."""
    return get_meta(con, "two_person_rule", "false") == "true"


def _as_model(model: Any):
    from migrant_linkage.model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str | Path):
        return Model.load(model)
    if isinstance(model, dict):
        return Model(model)
    raise ReviewError("model must be a Model, a dict of Splink settings or a JSON file path")


def _thresholds_dict(thresholds: Any) -> dict[str, float | None]:
    from migrant_linkage.zones import Thresholds

    if not isinstance(thresholds, Thresholds):
        raise TypeError(f"thresholds must be a zones.Thresholds, got {type(thresholds).__name__}")
    return thresholds.as_dict()
