"""The comparison creators: they render for every engine, their levels are in the documented
order, Splink can predict with them, and the family guard keeps twins out of auto-merge."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot
from splink import DuckDBAPI, Linker, SettingsCreator

from migrant_linkage.comparisons import (
    COMPARISON_NAMES,
    FAMILY_GUARD_COLUMNS,
    RAW_COLUMNS_COMPARED,
    comparison_levels,
    gamma_case_sql,
    migrant_comparisons,
)
from migrant_linkage.levels import ModelLevels, gamma_value
from migrant_linkage.schema import INPUT_COLUMNS, STANDARDIZED_COLUMN_NAMES
from migrant_linkage.standardize import standardize
from migrant_linkage.zones import family_guard_sql, family_review_sql, family_unsure_sql

#: The shipped comparisons' levels, as the guards read them for any model.
SHIPPED = ModelLevels.of_comparisons(migrant_comparisons())

README = Path(__file__).resolve().parents[1] / "comparisons" / "README.md"


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("creator", migrant_comparisons(), ids=COMPARISON_NAMES)
def test_comparison_renders_and_parses_for_engine(creator, dialect: str) -> None:
    comparison = creator.get_comparison(dialect)
    for level in comparison.comparison_levels:
        if level.sql_condition.strip().upper() == "ELSE":
            continue
        sqlglot.parse_one(level.sql_condition, read=dialect)  # raises on invalid SQL
    assert comparison.output_column_name == creator.create_output_column_name()


def test_spark_sql_uses_spark_string_functions() -> None:
    # Splink's Spark similarity jar names, not DuckDB's: the comparisons are dialect-free.
    sql = gamma_case_sql("surname", "spark")
    assert "jaro_winkler(" in sql and "jaro_winkler_similarity" not in sql
    assert "damerau_levenshtein(" in sql


def test_comparisons_come_in_the_published_order() -> None:
    names = tuple(c.create_output_column_name() for c in migrant_comparisons())
    assert names == COMPARISON_NAMES


def _readme_levels() -> dict[str, list[str]]:
    table = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (\w+) \| (`.*`) \|$", line)
        if m:
            table[m.group(1)] = re.findall(r"`(\w+)`", m.group(2))
    return table


@pytest.mark.parametrize("name", COMPARISON_NAMES)
def test_levels_are_evaluated_in_the_documented_order(name: str) -> None:
    creator = migrant_comparisons()[COMPARISON_NAMES.index(name)]
    rendered = creator.get_comparison("duckdb").comparison_levels
    labels_in_splink = [level.label_for_charts.split(":", 1)[0] for level in rendered]
    assert labels_in_splink == [lv.label for lv in comparison_levels(name)]
    assert labels_in_splink == _readme_levels()[name]


@pytest.mark.parametrize("name", COMPARISON_NAMES)
def test_gamma_value_is_the_number_splink_assigns(name: str) -> None:
    rendered = migrant_comparisons()[COMPARISON_NAMES.index(name)].get_comparison("duckdb")
    for level in rendered.comparison_levels:
        label = level.label_for_charts.split(":", 1)[0]
        assert gamma_value(name, label) == level.comparison_vector_value


def test_unknown_level_label_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no level 'identical'.*exact_set"):
        gamma_value("surname", "identical")


def test_comparisons_read_only_contract_columns() -> None:
    cols = set()
    for creator in migrant_comparisons():
        for level in creator.get_comparison("duckdb").comparison_levels:
            cols.update(c.input_name for c in level._input_columns_used_by_sql_condition)
    # Standardized columns, and the raw fields named in RAW_COLUMNS_COMPARED (the keyed birth
    # date, for the slip behind an unreal date): the record contract's columns.
    assert cols <= set(STANDARDIZED_COLUMN_NAMES) | set(RAW_COLUMNS_COMPARED)
    assert set(RAW_COLUMNS_COMPARED) <= set(INPUT_COLUMNS)
    # The guards' columns are contract columns too (scoring retains them in the predict output).
    assert set(FAMILY_GUARD_COLUMNS) <= set(STANDARDIZED_COLUMN_NAMES)


def test_term_frequency_switch() -> None:
    def tf_columns(term_frequency: bool) -> set[str]:
        out = set()
        for creator in migrant_comparisons(term_frequency=term_frequency):
            comparison = creator.get_comparison("duckdb")
            out.update(c.input_name for c in comparison._tf_adjustment_input_columns)
        return out

    assert tf_columns(True) == {
        "surname_paternal",
        "surname_units_key",
        "given_name_1",
        "given_names_with_initial",
        "birth_date_std",
    }
    assert tf_columns(False) == set()


# ------------------------------------------------------------------------------------------
# The family guard, applied to real Splink predictions over standardized records
# ------------------------------------------------------------------------------------------

_FAMILY = dict(
    last_name_1="GARCIA",
    last_name_2="LOPEZ",
    birth_date="2015-06-01",
    parent1_first="JUAN",
    parent1_last="GARCIA",
    parent2_first="ROSA",
    parent2_last="LOPEZ",
    birth_country="MX",
    birth_state="MICHOACAN",
    birth_city="URUAPAN",
)
_RAMOS = dict(last_name_1="RAMOS", last_name_2="PEREZ", birth_date="2012-09-09", sex="M")
_TORRES = dict(
    last_name_1="TORRES",
    last_name_2="SOTO",
    birth_date="2013-04-21",
    sex="M",
    parent1_first="JAVIER",
    parent2_first="ANA",
)
_MENDEZ = dict(
    last_name_1="MENDEZ",
    last_name_2="TORRES",
    parent1_first="LUIS",
    parent2_first="ELENA",
    birth_country="GT",
)
_SOTO = dict(
    last_name_1="SOTO",
    last_name_2="VEGA",
    birth_date="2012-05-17",
    sex="M",
    parent1_first="RAMON",
    parent2_first="LETICIA",
    birth_country="MX",
)

RECORDS = {
    "twin_maria_guadalupe": dict(
        _FAMILY, state="TX", first_name="MARIA GUADALUPE", sex="F", multiple_birth="Y"
    ),
    "twin_jose_luis": dict(
        _FAMILY, state="TX", first_name="JOSE LUIS", sex="M", multiple_birth="Y"
    ),
    "twin_jose_luis_again": dict(
        _FAMILY, state="FL", first_name="JOSÉ", middle_name="LUIS", sex="M", multiple_birth="Y"
    ),
    "twin_maria_fernanda": dict(
        _FAMILY, state="TX", first_name="MARIA FERNANDA", sex="F", multiple_birth="Y"
    ),
    "twin_maria_guadalupe_as_lupe": dict(
        _FAMILY, state="CA", first_name="LUPE", last_name_2="", sex="F", multiple_birth="Y"
    ),
    "twin_jose": dict(_FAMILY, state="CA", first_name="JOSE", sex="M", multiple_birth="Y"),
    "francisco_javier": dict(_TORRES, state="TX", first_name="FRANCISCO JAVIER"),
    # One DAVID keyed twice by hand, the second time with two slips (outside data: VQVID).
    "david_tx": dict(_TORRES, state="TX", first_name="DAVID"),
    "no_given_name_girl": dict(_TORRES, state="CA", first_name="", sex="F"),
    "no_given_name_boy": dict(_TORRES, state="WA", first_name="", sex="M"),
    "placeholder_hijo": dict(_TORRES, state="FL", first_name="HIJO", sex="M"),
    "david_c_tx": dict(_TORRES, state="TX", first_name="DAVID", middle_name="C"),
    "placeholder_husband_b": dict(_TORRES, state="NM", first_name="HUSBAND", middle_name="B"),
    "maria_g": dict(_FAMILY, state="CA", first_name="MARIA", middle_name="G", sex="F"),
    "maria_fernanda": dict(_FAMILY, state="WA", first_name="MARIA FERNANDA", sex="F"),
    "vqvid_ca": dict(_TORRES, state="CA", first_name="VQVID"),
    "garbled_fl": dict(_TORRES, state="FL", first_name="XQWZT"),
    "elena_ca": dict(_TORRES, state="CA", first_name="ELENA", sex="F"),
    "elisa_tx": dict(_TORRES, state="TX", first_name="ELISA", sex="F"),
    "twin_jose_l": dict(
        _FAMILY, state="WA", first_name="JOSE", middle_name="L", sex="M", multiple_birth="Y"
    ),
    "twin_jose_antonio": dict(
        _FAMILY, state="TX", first_name="JOSE ANTONIO", sex="M", multiple_birth="Y"
    ),
    "same_child_as_paco": dict(_TORRES, state="WA", first_name="PACO", last_name_2=""),
    "twin_daniel": dict(
        _FAMILY,
        state="WA",
        first_name="DANIEL",
        last_name_1="HERNANDEZ",
        sex="M",
        birth_date="2014-02-02",
    ),
    "twin_daniela": dict(
        _FAMILY,
        state="WA",
        first_name="DANIELA",
        last_name_1="HERNANDEZ",
        sex="F",
        birth_date="2014-02-02",
    ),
    "alberto_tx": dict(
        _RAMOS, state="TX", first_name="ALBERTO", state_student_id="2001", msix_id="300100200300"
    ),
    "tito_fl_same_msix": dict(_RAMOS, state="FL", first_name="TITO", msix_id="3001-0020-0300"),
    "tito_tx_same_id": dict(_RAMOS, state="TX", first_name="TITO", state_student_id="2001"),
    "tito_ca_no_id": dict(_RAMOS, state="CA", first_name="TITO"),
    "sibling_ana_sofia": dict(_MENDEZ, state="FL", first_name="ANA SOFIA", birth_date="2011-03-03"),
    "sibling_carlos": dict(_MENDEZ, state="FL", first_name="CARLOS", birth_date="2013-08-15"),
    # One JUAN CARLOS entered by his first name in TX and by his second in CA; TX says he is
    # not a multiple birth. Without that flag the same pair would be twins JUAN and CARLOS.
    "juan_not_multiple": dict(_SOTO, state="TX", first_name="JUAN", multiple_birth="N"),
    "carlos_flag_unknown": dict(_SOTO, state="CA", first_name="CARLOS"),
    "twin_pablo_flag_unknown": dict(_SOTO, state="CA", first_name="PABLO"),
    "brother_miguel_not_multiple": dict(
        _SOTO, state="TX", first_name="MIGUEL", birth_date="2009-10-02", multiple_birth="N"
    ),
    "cousin_pedro": dict(
        state="FL",
        first_name="PEDRO",
        last_name_1="MENDEZ",
        last_name_2="RAMOS",
        birth_date="2012-11-30",
        parent1_first="RAUL",
        parent2_first="SILVIA",
    ),
}


@cache
def _guarded_pairs() -> dict[frozenset[str], bool]:
    raw = pd.DataFrame(
        [{**{c: "" for c in INPUT_COLUMNS}, **r, "record_id": k} for k, r in RECORDS.items()],
        columns=list(INPUT_COLUMNS),
    )
    table = standardize(raw).standardized
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=migrant_comparisons(),
        blocking_rules_to_generate_predictions=["1=1"],
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=list(FAMILY_GUARD_COLUMNS),
    )
    con = duckdb.connect()
    linker = Linker(DuckDBAPI(connection=con).register(table), settings, log_level="WARNING")
    predictions = linker.inference.predict().as_pandas_dataframe()
    con.register("predictions", predictions)
    rows = con.execute(
        f"SELECT record_id_l, record_id_r, {family_guard_sql(SHIPPED)} AS guarded, "
        f"{family_review_sql(SHIPPED)} AS reviewed, {family_unsure_sql(SHIPPED)} AS unsure "
        "FROM predictions"
    ).fetchall()
    return {
        frozenset((left, right)): (bool(guarded), bool(reviewed), bool(unsure))
        for left, right, guarded, reviewed, unsure in rows
    }


def _guarded(a: str, b: str) -> bool:
    return _guarded_pairs()[frozenset((a, b))][0]


def _guarded_but_reviewed(a: str, b: str) -> bool:
    guarded, reviewed, _ = _guarded_pairs()[frozenset((a, b))]
    return guarded and reviewed


def _unsure(a: str, b: str) -> bool:
    return _guarded_pairs()[frozenset((a, b))][2]


def test_a_garbled_given_name_is_a_keying_slip_not_a_second_child() -> None:
    """VQVID is no given name anybody has, two edits from DAVID: a typo, not a second child.
    Neither held apart nor held back: the weight decides, as for any near spelling."""
    assert not _guarded("david_tx", "vqvid_ca")
    assert not _unsure("david_tx", "vqvid_ca")


def test_two_real_given_names_two_letters_apart_in_one_family_are_reviewed() -> None:
    """ELENA and ELISA are both real names two edits apart: sisters, or one girl keyed twice.
    Not held apart (no flag, no sex says two children), never auto-merged: reviewed."""
    assert not _guarded("elena_ca", "elisa_tx")
    assert _unsure("elena_ca", "elisa_tx")


def test_an_unknown_name_sharing_nothing_with_the_other_is_reviewed_not_held_apart() -> None:
    """XQWZT is no given name and shares nothing with DAVID: a garbled entry or another
    child. Family evidence without a second real name leaves it open: reviewed."""
    assert not _guarded("david_tx", "garbled_fl")
    assert _unsure("david_tx", "garbled_fl")


def test_a_middle_initial_of_another_letter_is_reviewed_not_merged() -> None:
    """MARIA G against MARIA FERNANDA, same family and birth date, no multiple-birth flag: a
    slip in one letter, or twin sisters. Neither merged nor held apart: reviewed."""
    assert not _guarded("maria_g", "maria_fernanda")
    assert _unsure("maria_g", "maria_fernanda")


def test_a_missing_first_name_whose_middle_initial_conflicts_is_reviewed_not_merged() -> None:
    """Surnames, birth date and sex agree; one record's first name is a placeholder (HUSBAND)
    and its middle initial is B where the other has C: the only name evidence left says two
    people (a household member whose birth date was copied). Reviewed, never auto-merged."""
    assert not _guarded("david_c_tx", "placeholder_husband_b")
    assert _unsure("david_c_tx", "placeholder_husband_b")


def test_a_missing_first_name_with_nothing_against_it_is_scored_by_its_weight() -> None:
    """No given name on one record (none keyed, or a placeholder: HIJO), nothing conflicting:
    missing evidence neither guards the pair nor holds it back."""
    assert not _guarded("david_tx", "no_given_name_boy")
    assert not _unsure("david_tx", "no_given_name_boy")
    assert not _unsure("david_tx", "placeholder_hijo")


def test_a_missing_given_name_with_a_different_sex_is_two_people() -> None:
    """Surnames and birth date agree, one record has no given name and the sexes differ (a
    spouse or twin whose birth date was copied from the other): nothing outweighs the sex."""
    assert _guarded("david_tx", "no_given_name_girl")


def test_two_real_unrelated_given_names_in_one_family_are_two_children() -> None:
    assert _guarded("twin_maria_guadalupe", "twin_jose_luis")
    assert _guarded("francisco_javier", "david_tx")


def test_flagged_twins_whose_middle_initial_is_another_letter_are_guarded() -> None:
    """JOSE L against JOSE ANTONIO: for a child the initial is compatible (a form kept only
    the letter, maybe mistyped); for a record flagged multiple birth it is the twin's name."""
    assert _guarded("twin_jose_l", "twin_jose_antonio")
    assert not _guarded("twin_jose_l", "twin_jose_luis")


def test_twins_with_different_names_are_guarded() -> None:
    assert _guarded("twin_maria_guadalupe", "twin_jose_luis")


def test_twin_sisters_sharing_first_given_name_are_guarded() -> None:
    assert _guarded("twin_maria_guadalupe", "twin_maria_fernanda")


def test_opposite_sex_twins_with_close_names_are_guarded() -> None:
    assert _guarded("twin_daniel", "twin_daniela")


def test_same_child_under_a_known_nickname_is_not_guarded() -> None:
    assert not _guarded("francisco_javier", "same_child_as_paco")


def test_twin_recorded_under_her_second_given_name_goes_to_review() -> None:
    # MARIA GUADALUPE as LUPE is second_as_first; for a known twin that could be her sister
    # GUADALUPE, so only a full name agreement may auto-merge twins.
    assert _guarded("twin_maria_guadalupe", "twin_maria_guadalupe_as_lupe")


def test_twins_jose_luis_and_jose_are_guarded() -> None:
    # Indistinguishable from one JOSE LUIS recorded as JOSE, except for the twin flag.
    assert _guarded("twin_jose_luis", "twin_jose")


def test_known_twin_with_full_name_agreement_is_not_guarded() -> None:
    assert not _guarded("twin_jose_luis", "twin_jose_luis_again")


def test_unknown_nickname_with_same_state_student_id_is_not_guarded() -> None:
    assert not _guarded("alberto_tx", "tito_tx_same_id")


def test_unknown_nickname_with_the_same_msix_id_from_another_state_is_not_guarded() -> None:
    assert not _guarded("alberto_tx", "tito_fl_same_msix")


def test_unknown_nickname_without_an_id_goes_to_review() -> None:
    # The documented trade-off: indistinguishable from a twin, so guarded (review, not merge).
    assert _guarded("alberto_tx", "tito_ca_no_id")


def test_siblings_sharing_parents_are_guarded() -> None:
    assert _guarded("sibling_ana_sofia", "sibling_carlos")


def test_cousins_born_apart_are_left_to_the_weights() -> None:
    assert not _guarded("sibling_ana_sofia", "cousin_pedro")


def test_compound_name_split_across_states_is_guarded_but_reviewed_when_not_multiple() -> None:
    # JUAN / CARLOS share nothing, so the guard holds them from auto-merge; TX's explicit
    # "not a multiple birth" rules out twins, so a person sees the pair.
    assert _guarded_but_reviewed("juan_not_multiple", "carlos_flag_unknown")


def test_twins_with_unknown_flags_stay_off_the_worklist() -> None:
    assert _guarded("carlos_flag_unknown", "twin_pablo_flag_unknown")
    assert not _guarded_but_reviewed("carlos_flag_unknown", "twin_pablo_flag_unknown")


def test_flagged_twins_are_never_reviewed() -> None:
    assert not _guarded_but_reviewed("twin_maria_guadalupe", "twin_jose_luis")


def test_brother_born_apart_is_not_reviewed_despite_the_flag() -> None:
    assert _guarded("juan_not_multiple", "brother_miguel_not_multiple")
    assert not _guarded_but_reviewed("juan_not_multiple", "brother_miguel_not_multiple")


def test_unrelated_children_are_not_guarded() -> None:
    assert not _guarded("twin_jose_luis", "alberto_tx")


# ------------------------------------------------------------------------------------------
# A second given name both records give is evidence of its own
# ------------------------------------------------------------------------------------------


def test_an_agreeing_middle_initial_adds_what_its_frequency_says_to_a_common_first_name() -> None:
    # Forty children called EVERETT with other middle initials (and other surnames and birth
    # dates) make EVERETT common; EVERETT J is only the one child. The pair that agrees on J
    # must weigh more than the same pair with the initial missing on one side; an initial that
    # conflicts is not agreement.
    from migrant_linkage.engine import dedupe
    from migrant_linkage.model import Model

    initials = "ABCDEFGHKLMNPRSTVW"
    everetts = [
        {
            "record_id": f"E-{i}",
            "state": "TX",
            "first_name": "EVERETT",
            "middle_name": initials[i % len(initials)],
            "last_name_1": f"SURNAME{i}",
            "birth_date": f"20{10 + i % 9:02d}-0{1 + i % 9}-1{i % 10}",
            "sex": "M",
        }
        for i in range(40)
    ]
    child = {"state": "TX", "first_name": "EVERETT", "last_name_1": "FORD", "sex": "M"}
    child |= {"birth_date": "2015-03-02"}
    records = pd.DataFrame(
        [
            *everetts,
            {**child, "record_id": "J-1", "middle_name": "J"},
            {**child, "record_id": "J-2", "middle_name": "JAMES", "state": "CA"},
            {**child, "record_id": "J-3", "state": "WA"},
            {**child, "record_id": "J-4", "middle_name": "Q", "state": "FL"},
        ]
    )
    pairs = dedupe(records, model=Model.default(), train=False, all_pairs=True).pairs.set_index(
        ["record_id_l", "record_id_r"]
    )
    agree, one_lacks, conflict = (
        pairs.loc[k] for k in (("J-1", "J-2"), ("J-1", "J-3"), ("J-1", "J-4"))
    )
    assert agree["given_name_level"].startswith("exact_with_second:")
    assert one_lacks["given_name_level"].startswith("exact:")
    assert conflict["given_name_level"].startswith("second_differs:")
    # EVERETT is 44 of 44 records with a first name, EVERETT J 2 of 43 with a second one.
    assert agree["match_weight"] > one_lacks["match_weight"] + 2
