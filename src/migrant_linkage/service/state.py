"""The served index: one process owns the index file and everything that writes to it.

* One DuckDB database instance stays open for the life of the server (a kept-alive
  connection), so each request's connection is cheap and every request sees the same data.
* Writes take turns (a process-wide lock around MasterIndex's one-transaction writes): two
  reviewers deciding at once never conflict, and no decision is lost or retried into a
  different outcome. Reads run beside them (DuckDB's snapshots).
* Uploads run in the background, one at a time, as jobs with a status; an upload scores on a
  snapshot without holding the write lock (MasterIndex.upload), so reviewers keep working.
* Browser sessions live in memory (a restart signs everyone out) and carry a CSRF token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from migrant_linkage.review.index import MasterIndex
from migrant_linkage.review.store import DEFAULT_LOCK_TIMEOUT, ReviewError, utc_now
from migrant_linkage.service.auth import Account, Accounts

SESSION_HOURS = 8

log = logging.getLogger("migrant_linkage.service")


class ServedIndex(MasterIndex):
    """A MasterIndex whose writes hold the server's write lock."""

    def __init__(self, path: str | Path, *, write_lock: threading.Lock, **options: Any):
        super().__init__(path, **options)
        self.write_lock = write_lock

    def _write(self, work, name: str = "write"):
        with self.write_lock:
            return super()._write(work, name)


@dataclass
class Session:
    account: Account
    csrf: str
    expires: datetime


@dataclass
class Job:
    job_id: str
    account_id: str
    state: str
    source: str
    status: str = "queued"  # queued, running, done, failed
    created_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    upload_id: int | None = None
    counts: dict[str, int] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "state": self.state,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "upload_id": self.upload_id,
            "counts": self.counts,
            "error": self.error,
        }


class Service:
    """Everything the app holds: the index, accounts, sessions and upload jobs."""

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        clock=utc_now,
        inactive_days: int | None = None,
    ):
        path = Path(path)
        probe = MasterIndex.open(path, lock_timeout=lock_timeout)  # errors if not an index
        del probe
        self.path = path
        self.clock = clock
        self.write_lock = threading.Lock()
        self._keepalive: duckdb.DuckDBPyConnection | None = duckdb.connect(str(path))
        self.index = ServedIndex(
            path, write_lock=self.write_lock, lock_timeout=lock_timeout, clock=clock
        )
        options = {} if inactive_days is None else {"inactive_days": inactive_days}
        self.accounts = Accounts(self.index._write, self.index._read, clock=clock, **options)
        self._ensure_search_keys()
        self.sessions: dict[str, Session] = {}
        self.jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()
        self._uploads: ThreadPoolExecutor | None = None

    def _ensure_search_keys(self) -> None:
        from migrant_linkage.review import search

        with self.index._read() as con:
            present = search.ensure(con)
        if not present:
            search.build_keys(self.index)

    def close(self) -> None:
        """Finish the running upload jobs and let the index file go (the app's shutdown)."""
        if self._uploads is not None:
            self._uploads.shutdown(wait=True)
            self._uploads = None
        if self._keepalive is not None:
            self._keepalive.close()
            self._keepalive = None

    # ---------------------------------------------------------------- sessions
    def open_session(self, account: Account) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(
            account, secrets.token_urlsafe(24), self.clock() + timedelta(hours=SESSION_HOURS)
        )
        self.sessions[_digest(token)] = session
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        session = self.sessions.get(_digest(token))
        if session is None or session.expires < self.clock():
            self.sessions.pop(_digest(token), None)
            return None
        return session

    def close_session(self, token: str | None) -> None:
        if token:
            self.sessions.pop(_digest(token), None)

    # ---------------------------------------------------------------- upload jobs
    def submit_upload(self, file: Path, *, account: Account, state: str, source: str) -> Job:
        job = Job(secrets.token_hex(8), account.account_id, state, source)
        with self._jobs_lock:
            self.jobs[job.job_id] = job
        if self._uploads is None:  # one upload at a time, in the order sent
            self._uploads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")
        if self._keepalive is None:
            self._keepalive = duckdb.connect(str(self.path))
        self._uploads.submit(self._run_upload, job, file)
        return job

    def _run_upload(self, job: Job, file: Path) -> None:
        job.status = "running"
        try:
            report = self.index.upload(
                str(file), state=job.state, actor=job.account_id, source_name=job.source
            )
            job.upload_id, job.counts, job.status = report.upload_id, report.counts, "done"
        except (ReviewError, ValueError, FileNotFoundError) as exc:
            job.status, job.error = "failed", str(exc)  # our messages name record ids only
        except Exception as exc:  # noqa: BLE001 - a job must end with a status
            job.status = "failed"
            job.error = f"internal error ({type(exc).__name__})"
            # The traceback can quote data values; only its type is logged (FERPA).
            log.warning("upload job %s failed: %s", job.job_id, type(exc).__name__)
        finally:
            job.finished_at = self.clock()
            file.unlink(missing_ok=True)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
