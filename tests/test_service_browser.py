"""The reviewer's screens in a real headless Chromium (Debian's, driven by Playwright), against
a real server on 127.0.0.1: a data administrator signs in, opens a near match, decides "same
student"; a second administrator validates; the merged student shows both records.

Set ML_SERVICE_SCREENSHOTS to a folder to keep the screenshots (docs/img/ uses them)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "uvicorn", reason="the service extra is not installed (pip install '.[service]')"
)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install '.[test]')"
)

import uvicorn  # noqa: E402

from migrant_linkage.service.app import create_app  # noqa: E402
from test_report import chromium_path, launch_chromium  # noqa: E402
from test_service_helpers import PASSWORD, add_accounts, build_index, population  # noqa: E402
from test_service_load import free_port  # noqa: E402

needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (Debian: apt-get install -y chromium)",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "index.duckdb"
    frame = population()
    build_index(path, frame)
    app = create_app(path, secure_cookies=False)
    add_accounts(app.state.service)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield app, f"http://127.0.0.1:{port}", frame
    server.should_exit = True
    thread.join(timeout=30)


def shoot(page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    keep = os.environ.get("ML_SERVICE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def sign_in(page, base: str, account_id: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#account_id", account_id)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/worklist")


@needs_chromium
def test_a_merge_decided_and_validated_in_the_browser_shows_on_the_student(served, tmp_path):
    app, base, frame = served
    index = app.state.service.index
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        context = launch_chromium(p, tmp_path)
        try:
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(page, base, "maria.ca")
            shoot(page, tmp_path, "service-worklist")
            link = page.locator("#worklist a.item-link").first
            item_id = int(link.inner_text().split()[-1])
            link.click()
            page.wait_for_selector("#evidence")
            widths = [
                box["width"]
                for box in (r.bounding_box() for r in page.locator("#evidence svg.bar rect").all())
                if box
            ]
            assert widths and max(widths) > 0  # the bars draw (the CSP allows no inline style)
            shoot(page, tmp_path, "service-item")
            page.fill("#comment", "same parents, called the district")
            page.click("#decide-match")
            page.wait_for_selector("#pending-notice")
            assert index.pending()["status"].eq("pending").sum() == 1

            page.click("header button")  # sign out
            page.wait_for_url(f"{base}/login")
            sign_in(page, base, "ana.ca")
            page.goto(f"{base}/items/{item_id}")
            page.click("#validate-approve")
            page.wait_for_selector("#student-records")
            shoot(page, tmp_path, "service-student")

            shown = set(page.locator("#student-records .record-key").all_inner_texts())
            item = index.show(item_id, actor="admin")["item"]
            assert {item["record_key_l"], item["record_key_r"]} <= shown
            assert index.student_of(item["record_key_l"]) == index.student_of(item["record_key_r"])
            assert "merge" in page.locator("#trail .action").all_inner_texts()

            row = frame.dropna(subset=["first_name", "last_name_1"]).iloc[0]
            page.goto(f"{base}/search?first_name={row.first_name}&last_name_1={row.last_name_1}")
            page.wait_for_selector("#results")
            assert page.locator("#results tr").count() > 1
            shoot(page, tmp_path, "service-search")
        finally:
            context.close()
    assert errors == []
