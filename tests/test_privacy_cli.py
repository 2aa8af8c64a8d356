"""Encoded linkage from the command line: each state runs `encode` with the shared key from a
file or the environment (never the command line), the linker runs `link-encoded` without it."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.cli import EXIT_BAD_INPUT, EXIT_OK, build_parser, main
from migrant_linkage.cli.encoded import SECRET_ENV

KEY = "5f0c8e2a91d4b7361ea0c9f3d25b8e47a6c1f09d3e72b5a8c4d6e1f0a9b3c72e"
OTHER_KEY = "c31a7e90f2b64d58a1e3c07b9d2f46e8b5a0c7d91e3f2b6a48c05d7e9f1a3b62"


@pytest.fixture(scope="module")
def state_files(tmp_path_factory) -> dict[str, object]:
    """Two files of one synthetic population: each child's first record in the receiving
    file ("TX"), the later ones in the sending file ("CA"), so children who moved are in both."""
    folder = tmp_path_factory.mktemp("states")
    records = synthetic.generate(200, seed=5)
    later = records.groupby("true_student_id").cumcount() > 0
    files = {}
    for name, part in (("TX", records[~later]), ("CA", records[later])):
        path = folder / f"{name.lower()}.csv"
        synthetic.write(part, path)
        files[name] = path
    return {"records": records, **files}


def _key_file(folder, key: str = KEY, mode: int = 0o600):
    path = folder / "tx-ca.key"
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def _encode(source, out, key_file) -> int:
    return main(["encode", str(source), "--secret-file", str(key_file), "--out", str(out)])


def test_encode_and_link_encoded_have_help(capsys):
    for command in ("encode", "link-encoded"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_the_secret_cannot_be_given_on_the_command_line():
    """`ps` and the shell history show a command line to every user of the machine."""
    parser = build_parser()
    encode = parser._subparsers._group_actions[0].choices["encode"]  # noqa: SLF001
    options = {o for action in encode._actions for o in action.option_strings}  # noqa: SLF001
    assert {o for o in options if "secret" in o} == {"--secret-file"}
    with pytest.raises(SystemExit) as stop:  # not an abbreviation of --secret-file either
        main(["encode", "x.csv", "--secret", KEY, "--out", "o"])
    assert stop.value.code == 2


def test_a_key_typed_where_the_key_file_goes_is_not_printed_back(state_files, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["encode", str(state_files["TX"]), "--secret-file", KEY, "--out", str(out)])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert KEY not in err and "put it in a file" in err


def test_two_states_encode_and_the_linker_links_without_the_secret(
    state_files, tmp_path, capsys, monkeypatch
):
    key_file = _key_file(tmp_path)
    assert _encode(state_files["TX"], tmp_path / "tx", key_file) == EXIT_OK
    monkeypatch.setenv(SECRET_ENV, KEY)  # CA keeps the key in its environment instead
    assert main(["encode", str(state_files["CA"]), "--out", str(tmp_path / "ca")]) == EXIT_OK
    monkeypatch.delenv(SECRET_ENV)

    tx = tmp_path / "tx" / "encoded.parquet"
    ca = tmp_path / "ca" / "encoded.parquet"
    for encoded in (tx, ca):
        assert stat.S_IMODE(os.stat(encoded).st_mode) == 0o600
        summary = json.loads((encoded.parent / "summary.json").read_text(encoding="utf-8"))
        assert summary["records_in"] == summary["standardized"] + summary["rejected"]
    table = pd.read_parquet(tx)
    names = {
        v.upper()
        for column in ("first_name", "last_name_1", "last_name_2")
        for v in state_files["records"][column].dropna()
        if len(v) >= 4
    }
    cells = {str(v).upper() for v in table.astype("str").to_numpy().ravel()}
    assert not names & cells

    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["link-encoded", str(tx), str(ca), "--out", str(run)]) == EXIT_OK
    printed = capsys.readouterr()
    assert KEY not in printed.out + printed.err
    clusters = pd.read_parquet(run / "clusters.parquet")
    records = state_files["records"]
    truth = dict(zip(records["record_id"].astype(str), records["true_student_id"], strict=True))
    merged = clusters.groupby("cluster_id")["record_id"].apply(list)
    moved = [ids for ids in merged if len(ids) > 1]
    assert moved, "children in both states are found"
    assert all(len({truth[r] for r in ids}) == 1 for ids in moved[:20])


def test_encode_refuses_a_key_file_other_users_can_read(state_files, tmp_path, capsys):
    key_file = _key_file(tmp_path, mode=0o644)
    assert _encode(state_files["TX"], tmp_path / "out", key_file) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "chmod 600" in err and KEY not in err
    assert not (tmp_path / "out" / "encoded.parquet").exists()


def test_encode_without_a_secret_says_where_to_put_it(state_files, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    code = main(["encode", str(state_files["TX"]), "--out", str(tmp_path / "out")])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--secret-file" in err and SECRET_ENV in err and "token_hex(32)" in err


def test_encode_with_a_chosen_password_exits_2_without_echoing_it(state_files, tmp_path, capsys):
    key_file = _key_file(tmp_path, key="TXCAexchange2026")
    assert _encode(state_files["TX"], tmp_path / "out", key_file) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "token_hex(32)" in err and "TXCAexchange2026" not in err


def test_link_encoded_refuses_files_encoded_with_different_secrets(state_files, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _encode(state_files["TX"], tmp_path / "tx", _key_file(tmp_path / "a")) == EXIT_OK
    other = _key_file(tmp_path / "b", key=OTHER_KEY)
    assert _encode(state_files["CA"], tmp_path / "ca", other) == EXIT_OK
    capsys.readouterr()
    code = main(
        [
            "link-encoded",
            str(tmp_path / "tx" / "encoded.parquet"),
            str(tmp_path / "ca" / "encoded.parquet"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert "different secrets" in capsys.readouterr().err


def test_link_encoded_refuses_a_plain_records_file(state_files, tmp_path, capsys):
    code = main(
        ["link-encoded", str(state_files["TX"]), str(state_files["CA"]), "--out", str(tmp_path)]
    )
    assert code == EXIT_BAD_INPUT
    assert "encoded.parquet" in capsys.readouterr().err
