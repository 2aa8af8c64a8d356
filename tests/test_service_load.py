"""A bounded load test: 20 reviewers' clients on a real server (uvicorn on 127.0.0.1) for about
30 seconds, searching, deciding, proposing and validating merges at once. Every decision the
server accepted must be in the audit log, once, by the right reviewer; no request may fail with
a server error; the audit log must replay to the live assignment."""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections import Counter

import pytest

pytest.importorskip(
    "uvicorn", reason="the service extra is not installed (pip install '.[service]')"
)

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from migrant_linkage.service.app import create_app  # noqa: E402
from test_service_helpers import PASSWORD, build_index, population  # noqa: E402

CLIENTS = 20
SECONDS = 30
REVIEWERS = [f"reviewer{i}" for i in range(5)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("load") / "index.duckdb"
    frame = population()
    build_index(path, frame)
    app = create_app(path, secure_cookies=False)
    for reviewer in REVIEWERS:  # validators of every state: they decide and validate
        app.state.service.index.add_account(
            reviewer, display_name=reviewer, role="validator", state=None, actor="admin"
        )
        app.state.service.accounts.set_password(reviewer, PASSWORD)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    yield app, f"http://127.0.0.1:{port}", frame
    running.should_exit = True
    thread.join(timeout=30)


def signed_in(base: str, reviewer: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"account_id": reviewer, "password": PASSWORD, "csrf": csrf})
    page = client.get("/worklist")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def work(base: str, reviewer: str, seed: int, until: float, frame, log: list, statuses: Counter):
    rng = random.Random(seed)
    client, csrf = signed_in(base, reviewer)
    headers = {"x-csrf-token": csrf}
    names = frame.dropna(subset=["first_name", "last_name_1"])
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.3:
            row = names.iloc[rng.randrange(len(names))]
            r = client.post(
                "/api/search",
                json={"first_name": row.first_name, "last_name_1": row.last_name_1},
                headers=headers,
            )
            statuses[r.status_code] += 1
            continue
        if roll < 0.5:
            pending = client.get("/api/pending").json()
            waiting = [p for p in pending if p["status"] == "pending"]
            if waiting:
                p = rng.choice(waiting)
                r = client.post(
                    f"/api/pending/{p['pending_id']}/validation",
                    json={"approve": rng.random() < 0.7},
                    headers=headers,
                )
                statuses[r.status_code] += 1
                if r.status_code == 200:
                    log.append((reviewer, r.json()["audit_id"]))
                continue
        items = client.get("/api/worklist?limit=50").json()
        if not items:
            time.sleep(0.05)
            continue
        item = rng.choice(items)
        decision = rng.choice(["match", "not-a-match", "skip"])
        r = client.post(
            f"/api/items/{int(item['item_id'])}/decision",
            json={"decision": decision, "comment": f"load {seed}"},
            headers=headers,
        )
        statuses[r.status_code] += 1
        if r.status_code == 200:
            log.append((reviewer, r.json()["audit_id"]))
    client.close()


def test_concurrent_reviewers_never_lose_a_decision(server):
    app, base, frame = server
    log: list[tuple[str, int]] = []
    statuses: Counter = Counter()
    until = time.monotonic() + SECONDS
    threads = [
        threading.Thread(
            target=work,
            args=(base, REVIEWERS[i % len(REVIEWERS)], i, until, frame, log, statuses),
        )
        for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 120)
    assert not any(t.is_alive() for t in threads)
    print(f"load: {CLIENTS} clients, {SECONDS} s, statuses {dict(statuses)}, accepted {len(log)}")
    assert not [s for s in statuses if s >= 500], statuses
    assert len(log) > CLIENTS, f"too little work got through: {statuses}"
    audit = app.state.service.index.audit()
    actor_of = dict(zip(audit["audit_id"], audit["actor"], strict=True))
    accepted_ids = [audit_id for _, audit_id in log]
    assert len(set(accepted_ids)) == len(accepted_ids)  # no entry shared by two decisions
    for reviewer, audit_id in log:
        assert actor_of.get(audit_id) == reviewer
    decisions = app.state.service.index.decisions()
    assert set(accepted_ids) <= set(decisions["audit_id"].dropna().astype(int))
    assert app.state.service.index.check_replay()
