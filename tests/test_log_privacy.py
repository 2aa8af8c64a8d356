"""FERPA: no names, birth dates or parents' names in log lines, warnings, console output or
exception messages; record ids and counts only.

The runs below log at DEBUG for both our loggers and Splink's (the most talkative setting a
user can choose; Splink then logs every SQL statement) over records carrying distinctive
names and dates, then search everything captured for them.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from migrant_linkage import cli, synthetic
from migrant_linkage.cli import EXIT_INTERNAL, EXIT_OK, main
from migrant_linkage.engine import dedupe, explain
from migrant_linkage.standardize import standardize

#: Values no SQL keyword, label, id or number can contain by accident.
CHILD_FIRST = "ZEBULONIA"
CHILD_SECOND = "XOCHIQUETZAL"
SURNAME_1 = "QUIXOTEZ"
SURNAME_2 = "VILLAFRANQUEZ"
PARENT_FIRST = "BARTOLOMEA"
PARENT_LAST = "ZUMARRAGUEZ"
BIRTH_DATE = "2011-07-23"
BIRTH_DATE_RAW = "07/23/2011"
SECRETS = (CHILD_FIRST, CHILD_SECOND, SURNAME_1, SURNAME_2, PARENT_FIRST, PARENT_LAST, BIRTH_DATE)


def _records(n_students: int = 20, seed: int = 5) -> pd.DataFrame:
    """Synthetic records plus one child, recorded three ways, carrying the distinctive values."""
    records = synthetic.generate(n_students, seed=seed)
    child = {
        "state": "TX",
        "first_name": f"{CHILD_FIRST} {CHILD_SECOND}",
        "last_name_1": SURNAME_1,
        "last_name_2": SURNAME_2,
        "birth_date": BIRTH_DATE,
        "sex": "F",
        "parent1_first": PARENT_FIRST,
        "parent1_last": PARENT_LAST,
        "birth_country": "MX",
    }
    rows = [
        {**child, "record_id": "secret-1"},
        {**child, "record_id": "secret-2", "state": "CA", "birth_date": BIRTH_DATE_RAW},
        {**child, "record_id": "secret-3", "first_name": CHILD_FIRST, "last_name_2": ""},
        {**child, "record_id": ""},  # rejected: its reject message must not quote the names
    ]
    return pd.concat([records, pd.DataFrame(rows)], ignore_index=True)


def _leaks(text: str) -> list[str]:
    upper = text.upper()
    return [s for s in (*SECRETS, BIRTH_DATE_RAW) if s in upper]


@pytest.fixture
def everything_logged(caplog):
    """Every level for our and Splink's loggers (an explicit level, so quiet_splink stands back)."""
    for name in ("migrant_linkage", "splink", "duckdb"):
        caplog.set_level(1, logger=name)  # below DEBUG too: Splink has finer levels
    return caplog


def test_dedupe_at_debug_logs_no_names_or_birth_dates(everything_logged, capsys, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = dedupe(_records(), out_dir=tmp_path)
    assert result.summary["rejected"] == 1  # the id-less record went to rejects
    pairs = set(zip(result.pairs["record_id_l"], result.pairs["record_id_r"], strict=True))
    assert ("secret-1", "secret-2") in pairs  # the run really compared the child's records
    assert everything_logged.records, "nothing was logged: the capture is not working"
    assert _leaks(everything_logged.text) == []
    assert _leaks(" ".join(str(w.message) for w in caught)) == []
    captured = capsys.readouterr()
    assert _leaks(captured.out + captured.err) == []
    assert _leaks(json.dumps(result.summary, default=str)) == []
    assert _leaks(" ".join(result.rejects["message"])) == []


def test_training_at_debug_logs_no_names_or_birth_dates(everything_logged, capsys):
    """Training runs extra Splink SQL (prior, u-sampling, EM): none of it carries values."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dedupe(_records(250, seed=6), train=True)
        except Exception as error:  # a model check may refuse a small sample; its text counts
            assert _leaks(str(error)) == []
    assert everything_logged.records, "nothing was logged: the capture is not working"
    assert _leaks(everything_logged.text) == []
    assert _leaks(" ".join(str(w.message) for w in caught)) == []
    captured = capsys.readouterr()
    assert _leaks(captured.out + captured.err) == []


def test_explain_at_debug_shows_levels_and_weights_not_values(everything_logged):
    records = _records(2)
    pair = records.loc[records["record_id"].isin(["secret-1", "secret-2"])].to_dict("records")
    table = explain(pair[0], pair[1])
    assert _leaks(table.to_string()) == []
    assert _leaks(everything_logged.text) == []


def test_cli_verbose_run_prints_no_names(tmp_path, capsys):
    path = tmp_path / "state.csv"
    synthetic.write(_records(), path)
    code = main(["-v", "dedupe", str(path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert _leaks(captured.out + captured.err) == []
    code = main(["validate", str(path), "--out", str(tmp_path / "validated")])
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert _leaks(captured.out + captured.err) == []


def test_cli_internal_error_does_not_echo_the_exception_text(tmp_path, capsys, monkeypatch):
    """A bug deep in a library may put a value into its exception message; the CLI shows only
    the exception type unless -v is given."""
    path = tmp_path / "state.csv"
    synthetic.write(_records(3), path)

    def failing_dedupe(*args, **kwargs):
        raise ValueError(f"could not compare '{CHILD_FIRST} {SURNAME_1}' born {BIRTH_DATE}")

    monkeypatch.setattr("migrant_linkage.engine.dedupe", failing_dedupe)
    code = cli.main(["dedupe", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert code == EXIT_INTERNAL
    assert "ValueError" in captured.err
    assert _leaks(captured.out + captured.err) == []


def test_reject_messages_name_columns_not_values():
    frame = pd.DataFrame(
        [
            {"record_id": "r1", "state": "TX", "first_name": "", "last_name_1": "..."},
            {"record_id": "r1", "state": "TX", "first_name": CHILD_FIRST, "last_name_1": SURNAME_1},
            {"record_id": "r2", "state": "", "first_name": CHILD_FIRST, "birth_date": BIRTH_DATE},
            {"record_id": "", "state": "TX", "parent1_first": PARENT_FIRST},
        ]
    )
    rejects = standardize(frame).rejects
    assert len(rejects) == 4
    assert _leaks(" ".join(rejects["message"].astype(str))) == []
