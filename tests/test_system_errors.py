"""Filesystem and database-file failures end with exit 2 and a message naming the path and the
cause, never "internal error (PermissionError)" and never a name or birth date.

Read-only folders and unreadable files are made real: as root, permissions do not bind, so the
CLI runs under `setpriv` with CAP_DAC_OVERRIDE dropped. A full disk is made two ways: a file-size
limit (RLIMIT_FSIZE, which makes writes fail with EFBIG) in the CLI's process, and a 64 KB tmpfs
mounted in a private mount namespace (`unshare -m`, ENOSPC) where the machine allows it.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage import synthetic

NAMES_AND_DATES_WORDS = ("GARCIA", "MARIA", "2010-")


def _can_drop_root_privileges() -> bool:
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def _cli(*argv: str, unprivileged: bool = False, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "migrant_linkage", *argv]
    if unprivileged and os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture
def roster(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    synthetic.write(synthetic.generate(30, seed=5), path)
    return path


def _no_student_data(stderr: str, roster: Path) -> None:
    assert "internal error" not in stderr
    names = set(pd.read_csv(roster, dtype=str)["last_name_1"].dropna())
    assert not any(name in stderr for name in names)


needs_permissions = pytest.mark.skipif(
    not _can_drop_root_privileges(), reason="running as root without setpriv"
)


@needs_permissions
@pytest.mark.parametrize("command", ["dedupe", "validate"])
def test_a_read_only_out_folder_exits_2_naming_the_folder(command, roster, tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    extra = ["--quiet"] if command == "dedupe" else []
    completed = _cli(command, str(roster), "--out", str(folder), *extra, unprivileged=True)
    assert completed.returncode == 2, completed.stderr
    assert str(folder) in completed.stderr and "Permission denied" in completed.stderr
    _no_student_data(completed.stderr, roster)


@needs_permissions
def test_a_database_in_a_read_only_folder_exits_2_naming_the_file(roster, tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    database = folder / "work.duckdb"
    completed = _cli(
        "dedupe",
        str(roster),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--database",
        str(database),
        unprivileged=True,
    )
    assert completed.returncode == 2, completed.stderr
    assert str(database) in completed.stderr and "Permission denied" in completed.stderr


@needs_permissions
def test_an_index_in_a_read_only_folder_exits_2_naming_the_file(tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    index = folder / "index.duckdb"
    completed = _cli("index", "init", "--index", str(index), "--admin", "ana", unprivileged=True)
    assert completed.returncode == 2, completed.stderr
    assert str(index) in completed.stderr and "Permission denied" in completed.stderr


@needs_permissions
def test_an_unreadable_input_exits_2_naming_the_file(roster, tmp_path):
    roster.chmod(0o000)
    completed = _cli("validate", str(roster), unprivileged=True)
    assert completed.returncode == 2, completed.stderr
    assert "roster.csv" in completed.stderr and "Permission denied" in completed.stderr


@pytest.mark.parametrize("where", ["input", "out"])
def test_a_symlink_loop_exits_2_saying_so(where, roster, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    if where == "input":
        completed = _cli("validate", str(tmp_path / "a"))
    else:
        completed = _cli("dedupe", str(roster), "--out", str(tmp_path / "a"), "--quiet")
    assert completed.returncode == 2, completed.stderr
    assert "symbolic link" in completed.stderr and str(tmp_path / "a") in completed.stderr


@pytest.mark.parametrize(
    "option",
    [
        ["dedupe", "{roster}", "--out", "{out}", "--quiet", "--database", "{garbage}"],
        ["index", "worklist", "--index", "{garbage}"],
    ],
    ids=["--database", "--index"],
)
def test_a_garbage_duckdb_file_exits_2_naming_it(option, roster, tmp_path):
    garbage = tmp_path / "state.duckdb"
    garbage.write_bytes(b"this is not a database\n" * 100)
    argv = [o.format(roster=roster, out=tmp_path / "out", garbage=garbage) for o in option]
    completed = _cli(*argv)
    assert completed.returncode == 2, completed.stderr
    assert str(garbage) in completed.stderr and "not a valid DuckDB database" in completed.stderr


def test_a_utf16_file_with_a_byte_order_mark_is_read(roster, tmp_path):
    frame = pd.read_csv(roster, dtype=str, keep_default_na=False)
    utf16 = tmp_path / "unicode.csv"
    frame.to_csv(utf16, index=False, encoding="utf-16")
    completed = _cli("validate", str(utf16))
    assert completed.returncode == 0, completed.stderr
    assert re.search(rf"records_in:\s+{len(frame)}\n", completed.stdout)
    assert re.search(r"\brejected:\s+0\n", completed.stdout)


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # Python ignores SIGXFSZ


def test_a_file_size_limit_mid_write_exits_2_naming_the_output_and_leaves_no_marker(
    roster, tmp_path
):
    out = tmp_path / "out"
    completed = _cli(
        "dedupe",
        str(roster),
        "--out",
        str(out),
        "--quiet",
        preexec_fn=_limit_file_size,
    )
    assert completed.returncode == 2, completed.stderr
    assert str(out) in completed.stderr and "File too large" in completed.stderr
    _no_student_data(completed.stderr, roster)
    assert not (out / "summary.json").exists()
    assert all(p.name.startswith(".") or p.stat().st_size > 0 for p in out.iterdir())


def _can_mount_a_private_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_a_private_tmpfs(), reason="cannot mount a private tmpfs")
def test_a_full_disk_exits_2_naming_the_output_and_the_cause(roster, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {disk} && "
        f"{sys.executable} -m migrant_linkage dedupe {roster} --out {out} --quiet"
    )
    completed = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 2, completed.stderr
    assert str(out) in completed.stderr and "No space left on device" in completed.stderr
    _no_student_data(completed.stderr, roster)
