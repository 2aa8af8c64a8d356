"""Name standardization: surname conventions, particles, suffixes, compound and nick names,
phonetic keys, parents, flags, and robustness on arbitrary Unicode."""

from __future__ import annotations

import csv
from importlib import resources

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from migrant_linkage.schema import FLAG_SEPARATOR, QualityFlag
from migrant_linkage.standardize import standardize
from migrant_linkage.standardize.names import (
    NAME_INPUT_COLUMNS,
    NAME_OUTPUT_COLUMNS,
    canonical_given_name,
    fold_name,
    given_name_readings,
    phonetic_key,
    standardize_names,
)


def _std(**fields: str | None) -> pd.Series:
    """Standardize one record given as keyword fields; returns its output row."""
    raw = pd.DataFrame({k: pd.Series([v], dtype="string") for k, v in fields.items()})
    return standardize_names(raw).iloc[0]


def _flags(row: pd.Series) -> set[str]:
    return set(filter(None, row["name_flags"].split(FLAG_SEPARATOR)))


def _data(name: str) -> list[dict[str, str]]:
    with resources.files("migrant_linkage.data").joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------
# Reference tables
# --------------------------------------------------------------------------------------------


def test_nickname_table_is_large_reviewed_and_has_no_chains():
    rows = _data("nicknames.csv")
    names = [r["name"] for r in rows]
    assert len(rows) >= 150
    assert len(names) == len(set(names)), "a nickname must map to one canonical name"
    assert all(r["note"].strip() for r in rows), "every entry needs a note or source"
    assert {r["kind"] for r in rows} <= {"diminutive", "english_form", "spelling_variant"}
    canonicals = {r["canonical"] for r in rows}
    assert not canonicals & set(names), "a canonical name is itself mapped elsewhere (chain)"
    # Keys are looked up on folded single units, so the table must hold folded single units.
    for r in rows:
        for value in (r["name"], r["canonical"]):
            assert fold_name(pd.Series([value])).iloc[0] == value
            assert " " not in value


def test_every_nickname_row_names_its_source_and_imported_rows_name_the_package_version():
    rows = _data("nicknames.csv")
    assert all(r["source"].strip() for r in rows)
    imported = [r for r in rows if r["source"].startswith("nicknames ")]
    assert imported, "the English nicknames of the nicknames package are in the table"
    assert {r["source"] for r in imported} == {"nicknames 1.0.1 (Apache-2.0)"}
    assert {r["language"] for r in imported} == {"en"}


def test_english_import_never_overrides_a_spanish_row():
    rows = _data("nicknames.csv")
    hand = {r["name"] for r in rows if not r["source"].startswith("nicknames ")}
    imported = {r["name"] for r in rows if r["source"].startswith("nicknames ")}
    assert not hand & imported
    spanish_given = {r["name"] for r in _data("known_given_names.csv") if "es_" in r["source"]}
    assert not imported & spanish_given, "a Spanish given name was imported as a nickname"


def test_no_brother_and_sister_names_share_a_canonical_name():
    # MARIO / MARIA, ROBERTO / ROBERTA: the names that tell opposite-sex twins apart.
    known = {r["name"] for r in _data("known_given_names.csv")}
    pairs = [(n, n[:-1] + "A") for n in sorted(known) if n.endswith("O") and n[:-1] + "A" in known]
    assert len(pairs) > 50
    brothers = canonical_given_name(pd.Series([b for b, _ in pairs]))
    sisters = canonical_given_name(pd.Series([s for _, s in pairs]))
    joined = [pairs[i] for i in range(len(pairs)) if brothers.iloc[i] == sisters.iloc[i]]
    assert joined == []


def test_placeholder_table_is_folded_and_every_value_has_a_reason():
    rows = _data("placeholder_names.csv")
    assert rows
    for r in rows:
        assert r["applies_to"] in {"given", "surname", "both"}
        assert r["note"].strip() and r["source"].strip()
        assert fold_name(pd.Series([r["value"]])).iloc[0] == r["value"]
    values = [r["value"] for r in rows]
    assert len(values) == len(set(values))


def test_no_placeholder_is_a_known_name_of_the_field_it_applies_to():
    """A one-word placeholder blanks any field made of such words, so none may be a real name.
    A longer one (LADY OF THE HOUSE) only matches the whole field, so its words may be names."""
    given = {r["name"] for r in _data("known_given_names.csv")}
    given |= {r["name"] for r in _data("nicknames.csv")}
    surnames = {r["name"] for r in _data("known_surnames.csv")}
    for r in _data("placeholder_names.csv"):
        words = set(r["value"].split())
        if len(words) > 1:
            words = {r["value"]}
        if r["applies_to"] in ("given", "both"):
            assert not words & given, r["value"]
        if r["applies_to"] in ("surname", "both"):
            assert not words & surnames, r["value"]


@pytest.mark.parametrize(
    ("field", "value"), [("first_name", "LADY"), ("last_name_1", "HOUSE"), ("first_name", "MAN")]
)
def test_a_real_name_that_is_a_word_of_a_longer_placeholder_is_kept(field, value):
    raw = pd.DataFrame([{"record_id": "1", "state": "TX", "first_name": "ANA", field: value}])
    row = standardize(raw).standardized.iloc[0]
    kept = row["given_name_1"] if field == "first_name" else row["surname_paternal"]
    assert kept == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "LADY OF THE HOUSE"),
        ("first_name", "Hijo"),
        ("last_name_1", "Of The Home"),
        ("last_name_1", "Man Of The House"),
        ("last_name_1", "No Name"),
    ],
)
def test_a_census_placeholder_name_is_blank(field, value):
    raw = pd.DataFrame(
        [
            {
                "record_id": "1",
                "state": "TX",
                "first_name": "ANA",
                "last_name_1": "RUIZ",
                field: value,
            }
        ]
    )
    row = standardize(raw).standardized.iloc[0]
    blanked = row["given_name_1"] if field == "first_name" else row["surname_paternal"]
    assert pd.isna(blanked)


def test_glued_particle_table_keeps_words_that_only_start_with_a_particle():
    rows = _data("surname_particles.csv")
    assert all(r["note"].strip() for r in rows)
    for r in rows:
        if r["kind"] == "keep":
            assert _std(last_name_1=r["form"])["surname_paternal"] == r["form"]


# --------------------------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Muñoz", "MUNOZ"),
        ("ÁLVAREZ", "ALVAREZ"),
        ("Güemes", "GUEMES"),
        ("O'Brien", "OBRIEN"),
        ("O’Brien", "OBRIEN"),
        ("García-López", "GARCIA LOPEZ"),
        ("  maria   de  jesus ", "MARIA DE JESUS"),
        ("J.R.", "J R"),
        ("Smith, Jr.", "SMITH JR"),
        ("Ana María\u200f😀", "ANA MARIA"),
        ("LO\x7fPEZ", "LOPEZ"),  # a control byte inside a word is deleted, not a word break
        ("Mu\u200bñoz", "MUNOZ"),  # zero-width space deleted
        ("JOSÃ‰", "JOSE"),  # mojibake: UTF-8 read as cp1252 upstream
        ("PÃ©rez", "PEREZ"),
    ],
)
def test_fold_name_upper_cases_and_strips_accents_and_punctuation(raw, folded):
    assert fold_name(pd.Series([raw])).iloc[0] == folded


def test_fold_name_turns_empty_and_punctuation_only_into_missing():
    out = fold_name(pd.Series(["", "   ", "--", "😀", None], index=[5, 6, 7, 8, 9]))
    assert out.isna().all()
    assert list(out.index) == [5, 6, 7, 8, 9]


# --------------------------------------------------------------------------------------------
# Surname conventions
# --------------------------------------------------------------------------------------------


def test_two_surname_fields_are_split_paternal_then_maternal():
    row = _std(first_name="Ana", last_name_1="García", last_name_2="López")
    assert (row["surname_paternal"], row["surname_maternal"]) == ("GARCIA", "LOPEZ")
    assert row["surname_form"] == "SPLIT"
    assert row["surname_units_key"] == "GARCIA LOPEZ"
    assert row["surname_count"] == 2


def test_both_surnames_in_one_field_are_combined():
    row = _std(first_name="Ana", last_name_1="GARCIA LOPEZ")
    assert (row["surname_paternal"], row["surname_maternal"]) == ("GARCIA", "LOPEZ")
    assert row["surname_form"] == "COMBINED"


def test_hyphenated_surnames_are_two_units():
    row = _std(first_name="Ana", last_name_1="Garcia-Lopez")
    assert (row["surname_paternal"], row["surname_maternal"]) == ("GARCIA", "LOPEZ")
    assert row["surname_form"] == "HYPHENATED"


def test_y_joining_two_surnames_is_dropped():
    row = _std(first_name="Ana", last_name_1="Garcia y Lopez")
    assert row["surname_units_key"] == "GARCIA LOPEZ"
    assert row["surname_count"] == 2


def test_single_surname_has_no_maternal():
    row = _std(first_name="Ana", last_name_1="Garcia")
    assert row["surname_form"] == "SINGLE"
    assert row["surname_paternal"] == "GARCIA"
    assert pd.isna(row["surname_maternal"])


def test_only_maternal_field_filled_stays_maternal():
    row = _std(first_name="Ana", last_name_2="Lopez")
    assert pd.isna(row["surname_paternal"])
    assert row["surname_maternal"] == "LOPEZ"
    assert row["surname_units_key"] == "LOPEZ"


def test_swapped_surname_order_gives_the_same_units_key():
    a = _std(first_name="Ana", last_name_1="Garcia", last_name_2="Lopez")
    b = _std(first_name="Ana", last_name_1="Lopez", last_name_2="Garcia")
    assert a["surname_units_key"] == b["surname_units_key"]
    assert a["surname_paternal"] != b["surname_paternal"]


def test_same_surname_twice_counts_two_units_but_one_key():
    row = _std(first_name="Ana", last_name_1="Hernandez", last_name_2="Hernandez")
    assert row["surname_units_key"] == "HERNANDEZ"
    assert row["surname_count"] == 2


def test_no_surname_is_flagged():
    row = _std(first_name="Ana")
    assert row["surname_form"] == "NONE"
    assert row["surname_count"] == 0
    assert QualityFlag.SURNAME_MISSING in _flags(row)


# --------------------------------------------------------------------------------------------
# Particles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["De la Cruz", "DELACRUZ", "Cruz", "de-la-cruz", "DE LA  CRUZ"])
def test_de_la_cruz_written_any_way_is_unit_cruz(written):
    row = _std(first_name="Ana", last_name_1=written)
    assert row["surname_units_key"] == "CRUZ"
    assert row["surname_count"] == 1


@pytest.mark.parametrize("written", ["Del Rio", "DELRIO", "del río"])
def test_del_rio_is_unit_rio(written):
    assert _std(first_name="Ana", last_name_1=written)["surname_units_key"] == "RIO"


def test_delgado_is_not_stripped_to_gado():
    assert _std(first_name="Ana", last_name_1="Delgado")["surname_units_key"] == "DELGADO"


def test_deleon_and_de_leon_give_the_same_unit():
    a = _std(first_name="Ana", last_name_1="DeLeon")
    b = _std(first_name="Ana", last_name_1="De León")
    assert a["surname_units_key"] == b["surname_units_key"] == "LEON"


def test_de_la_o_keeps_its_particles_because_o_is_one_letter():
    a = _std(first_name="Ana", last_name_1="De la O")
    b = _std(first_name="Ana", last_name_1="Delao")
    assert a["surname_units_key"] == b["surname_units_key"] == "DELAO"
    assert QualityFlag.NAME_TRUNCATED_OR_INITIAL not in _flags(a)


def test_particle_surname_with_second_surname_gives_two_units():
    row = _std(first_name="Ana", last_name_1="De la Cruz Martinez")
    assert (row["surname_paternal"], row["surname_maternal"]) == ("CRUZ", "MARTINEZ")


def test_san_martin_is_one_unit_not_the_given_name_martin():
    row = _std(first_name="Ana", last_name_1="San Martin")
    assert row["surname_units_key"] == "SANMARTIN"


# --------------------------------------------------------------------------------------------
# Suffixes
# --------------------------------------------------------------------------------------------


def test_suffix_field_is_standardized():
    assert _std(first_name="Juan", last_name_1="Garcia", suffix="Jr.")["suffix_std"] == "JR"
    assert _std(first_name="Juan", last_name_1="Garcia", suffix="junior")["suffix_std"] == "JR"
    assert _std(first_name="Juan", last_name_1="Garcia", suffix="3rd")["suffix_std"] == "III"


def test_suffix_inside_surname_field_is_moved_out_and_flagged():
    row = _std(first_name="Juan", last_name_1="Garcia Jr")
    assert row["suffix_std"] == "JR"
    assert row["surname_units_key"] == "GARCIA"
    assert row["surname_form"] == "SINGLE"
    assert QualityFlag.SUFFIX_IN_NAME in _flags(row)


def test_suffix_inside_first_name_is_moved_out():
    row = _std(first_name="Jose Luis III", last_name_1="Garcia")
    assert row["suffix_std"] == "III"
    assert row["given_name_full"] == "JOSE LUIS"
    assert row["given_name_2"] == "LUIS"


def test_middle_name_holding_only_jr_is_a_suffix():
    row = _std(first_name="Juan", middle_name="JR", last_name_1="Garcia")
    assert row["suffix_std"] == "JR"
    assert pd.isna(row["given_name_2"])


def test_lone_v_is_a_name_or_initial_never_a_suffix():
    row = _std(first_name="V", middle_name="V", last_name_1="Garcia V")
    assert pd.isna(row["suffix_std"])
    assert row["given_name_1"] == "V"
    assert row["surname_maternal"] == "V"
    assert QualityFlag.SUFFIX_IN_NAME not in _flags(row)


# --------------------------------------------------------------------------------------------
# Given names
# --------------------------------------------------------------------------------------------


def test_compound_given_name_splits_into_two_units():
    row = _std(first_name="María Guadalupe", last_name_1="Garcia")
    assert (row["given_name_1"], row["given_name_2"]) == ("MARIA", "GUADALUPE")
    assert row["given_name_full"] == "MARIA GUADALUPE"


@pytest.mark.parametrize(
    ("written", "units"),
    [
        ("María de Jesús", ("MARIA", "JESUS")),
        ("Maria de los Angeles", ("MARIA", "ANGELES")),
        ("Juan de Dios", ("JUAN", "DIOS")),
        ("Maria del Carmen", ("MARIA", "CARMEN")),
    ],
)
def test_given_name_particles_kept_in_full_form_dropped_from_units(written, units):
    row = _std(first_name=written, last_name_1="Garcia")
    assert (row["given_name_1"], row["given_name_2"]) == units
    assert row["given_name_full"] == fold_name(pd.Series([written])).iloc[0]


def test_middle_name_is_second_given_unit_when_first_name_is_one_word():
    row = _std(first_name="Jose", middle_name="Luis", last_name_1="Garcia")
    assert (row["given_name_1"], row["given_name_2"]) == ("JOSE", "LUIS")
    assert row["middle_name_std"] == "LUIS"


@pytest.mark.parametrize(
    ("nickname", "canonical"),
    [
        ("Lupe", "GUADALUPE"),
        ("Lupita", "GUADALUPE"),
        ("Pepe", "JOSE"),
        ("Paco", "FRANCISCO"),
        ("Pancho", "FRANCISCO"),
        ("Chuy", "JESUS"),
        ("Memo", "GUILLERMO"),
        ("Lalo", "EDUARDO"),
        ("Nacho", "IGNACIO"),
        ("Toño", "ANTONIO"),
        ("Chelo", "CONSUELO"),
        ("Concha", "CONCEPCION"),
        ("Lola", "DOLORES"),
        ("Chayo", "ROSARIO"),
        ("Kike", "ENRIQUE"),
        ("Joseph", "JOSE"),
        ("John", "JUAN"),
        ("George", "JORGE"),
        ("Mary", "MARIA"),
        ("Jesenia", "YESENIA"),
    ],
)
def test_nicknames_and_english_forms_map_to_the_canonical_name(nickname, canonical):
    row = _std(first_name=nickname, last_name_1="Garcia")
    assert row["given_name_1_canonical"] == canonical
    assert row["given_name_1"] == fold_name(pd.Series([nickname])).iloc[0]


@pytest.mark.parametrize(
    ("nickname", "full_name"),
    [
        ("Bob", "Robert"),
        ("Bob", "Roberto"),
        ("Richie", "Richard"),
        ("Richie", "Ricardo"),
        ("Dan", "Daniel"),
        ("Bill", "William"),
        ("Bill", "Guillermo"),
        ("Jim", "James"),
        ("Tom", "Thomas"),
        ("Matt", "Matthew"),
        ("Nick", "Nicholas"),
        ("Vince", "Vincent"),
    ],
)
def test_english_nickname_and_full_name_share_a_canonical_name(nickname, full_name):
    out = canonical_given_name(fold_name(pd.Series([nickname, full_name])))
    assert out.iloc[0] == out.iloc[1]


def test_bob_and_robert_share_a_canonical_name():
    bob = _std(first_name="Bob", last_name_1="Smith")
    robert = _std(first_name="ROBERT", last_name_1="Smith")
    assert bob["given_name_1_canonical"] == robert["given_name_1_canonical"] == "ROBERTO"
    assert bob["given_name_1"] == "BOB"  # the unit itself is kept as written


@pytest.mark.parametrize("nickname", ["SAM", "PAT", "AL", "CHRIS", "JACK", "ANDY"])
def test_ambiguous_english_nickname_keeps_itself_as_canonical(nickname):
    # SAM is Samuel or Samantha, PAT Patrick or Patricia: no single canonical is right.
    assert canonical_given_name(pd.Series([nickname])).iloc[0] == nickname


@pytest.mark.parametrize(
    ("a", "b"), [("ERICK", "FREDERICK"), ("MICAH", "MICHAEL"), ("DON", "DONALD")]
)
def test_nickname_import_does_not_join_two_different_names(a, b):
    out = canonical_given_name(pd.Series([a, b]))
    assert out.iloc[0] != out.iloc[1]


@pytest.mark.parametrize(
    ("nickname", "formal"),
    [
        # Nicknames that do not share the formal name's first letter: the package lists them,
        # and a Census-listed nickname is not thereby "a name in its own right".
        ("TED", "EDUARDO"),  # Edward, whose Spanish form is Eduardo
        ("NED", "EDUARDO"),
        ("BETSY", "ELIZABETH"),
        ("POLLY", "MARIA"),  # Mary
        ("PEG", "MARGARITA"),  # Margaret
        ("HAL", "ENRIQUE"),  # Henry
    ],
)
def test_english_nickname_reads_as_its_formal_name(nickname, formal):
    readings = given_name_readings(pd.Series([nickname])).iloc[0]
    assert formal in readings.split()


@pytest.mark.parametrize(
    ("nickname", "other"),
    [("MEL", "EMILIA"), ("LENA", "KATHLEEN"), ("RONNY", "VERONICA"), ("SADIE", "MERCEDES")],
)
def test_reviewed_out_readings_do_not_join_two_names(nickname, other):
    # The package lists these, but they join two different given names (or cross the sexes).
    readings = given_name_readings(pd.Series([nickname])).iloc[0]
    assert readings is None or pd.isna(readings) or other not in readings.split()


def test_beto_is_mapped_to_one_canonical_name():
    assert _std(first_name="Beto", last_name_1="Garcia")["given_name_1_canonical"] == "ALBERTO"


def test_name_outside_the_table_is_its_own_canonical():
    out = canonical_given_name(pd.Series(["GUADALUPE", "XOCHITL", None]))
    assert out.iloc[0] == "GUADALUPE"
    assert out.iloc[1] == "XOCHITL"
    assert pd.isna(out.iloc[2])


def test_second_given_unit_is_canonicalised_too():
    row = _std(first_name="Maria", middle_name="Lupe", last_name_1="Garcia")
    assert row["given_name_2_canonical"] == "GUADALUPE"


# --------------------------------------------------------------------------------------------
# Paternal surname in the middle-name field
# --------------------------------------------------------------------------------------------


def test_paternal_surname_in_middle_name_field_is_recovered():
    row = _std(first_name="Juan", middle_name="Garcia", last_name_1="Lopez")
    assert (row["surname_paternal"], row["surname_maternal"]) == ("GARCIA", "LOPEZ")
    assert row["surname_form"] == "FROM_MIDDLE"
    assert row["surname_units_key"] == "GARCIA LOPEZ"
    assert pd.isna(row["given_name_2"]), "the surname must not be reused as a given name"
    assert row["middle_name_std"] == "GARCIA"
    assert QualityFlag.SURNAME_FROM_MIDDLE_NAME in _flags(row)


def test_recovered_middle_surname_matches_the_split_record():
    moved = _std(first_name="Juan", middle_name="Hernández", last_name_1="Lopez")
    split = _std(first_name="Juan", last_name_1="Hernandez", last_name_2="Lopez")
    cols = ["surname_paternal", "surname_maternal", "surname_units_key", "given_name_2"]
    assert moved[cols].fillna("<missing>").tolist() == split[cols].fillna("<missing>").tolist()


@pytest.mark.parametrize(
    ("middle", "last_1", "last_2"),
    [
        ("Luis", "Lopez", None),  # a given name
        ("Cruz", "Lopez", None),  # both a given name and a surname: left alone
        ("Garcia", "Lopez", "Perez"),  # both surname fields already filled
        ("Garcia", "Lopez Perez", None),  # last_name_1 already holds two surnames
    ],
)
def test_middle_name_is_not_moved_when_the_evidence_is_weak(middle, last_1, last_2):
    row = _std(first_name="Juan", middle_name=middle, last_name_1=last_1, last_name_2=last_2)
    assert row["surname_form"] != "FROM_MIDDLE"
    assert QualityFlag.SURNAME_FROM_MIDDLE_NAME not in _flags(row)


# --------------------------------------------------------------------------------------------
# Parents
# --------------------------------------------------------------------------------------------


def test_parents_listed_in_either_order_give_the_same_columns():
    a = _std(
        first_name="Ana",
        last_name_1="Garcia",
        parent1_first="Pedro",
        parent1_last="Garcia Ruiz",
        parent2_first="María Elena",
        parent2_last="López",
    )
    b = _std(
        first_name="Ana",
        last_name_1="Garcia",
        parent1_first="MARIA",
        parent1_last="Lopez",
        parent2_first="pedro",
        parent2_last="GARCIA",
    )
    assert (a["parent_given_a"], a["parent_given_b"]) == ("MARIA", "PEDRO")
    assert (b["parent_given_a"], b["parent_given_b"]) == ("MARIA", "PEDRO")
    assert a["parent_surnames_key"] == "GARCIA LOPEZ RUIZ"
    assert b["parent_surnames_key"] == "GARCIA LOPEZ"


def test_a_single_parent_goes_first_with_the_other_missing():
    row = _std(first_name="Ana", last_name_1="Garcia", parent2_first="Rosa")
    assert row["parent_given_a"] == "ROSA"
    assert pd.isna(row["parent_given_b"])


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


def test_digits_are_flagged_and_removed():
    row = _std(first_name="Mar1a", last_name_1="Garcia2")
    assert QualityFlag.NAME_HAS_DIGITS in _flags(row)
    assert row["given_name_1"] == "MARA"
    assert row["surname_paternal"] == "GARCIA"


def test_initial_as_given_name_is_flagged():
    row = _std(first_name="J.", last_name_1="Garcia")
    assert row["given_name_1"] == "J"
    assert QualityFlag.NAME_TRUNCATED_OR_INITIAL in _flags(row)


def test_missing_first_name_is_flagged():
    row = _std(first_name="  ", last_name_1="Garcia")
    assert pd.isna(row["given_name_1"])
    assert QualityFlag.GIVEN_NAME_MISSING in _flags(row)


def test_clean_record_has_no_flags():
    assert _std(first_name="Ana", last_name_1="Garcia", last_name_2="Lopez")["name_flags"] == ""


def test_flags_are_sorted_and_unique():
    row = _std(first_name="1", last_name_1="G Jr")
    flags = row["name_flags"].split(FLAG_SEPARATOR)
    assert flags == sorted(set(flags))
    assert len(flags) >= 3


# --------------------------------------------------------------------------------------------
# Phonetic keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("VASQUEZ", "VAZQUEZ"),
        ("HERNANDEZ", "ERNANDEZ"),
        ("YESENIA", "JESENIA"),
        ("XIMENA", "JIMENA"),
        ("GERARDO", "JERARDO"),
        ("CASTILLO", "CASTIYO"),
        ("CECILIA", "SESILIA"),
        ("KARLA", "CARLA"),
        ("QUINTERO", "KINTERO"),
        ("VICTOR", "BICTOR"),
    ],
)
def test_spanish_spelling_variants_share_a_phonetic_key(a, b):
    keys = phonetic_key(pd.Series([a, b]))
    assert keys.iloc[0] == keys.iloc[1]


@pytest.mark.parametrize(
    ("a", "b"), [("MARIO", "MARIA"), ("DANIEL", "DANIELA"), ("JUAN", "JUANA"), ("LUIS", "LUISA")]
)
def test_brother_and_sister_names_keep_different_phonetic_keys(a, b):
    keys = phonetic_key(pd.Series([a, b]))
    assert keys.iloc[0] != keys.iloc[1]


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------


def test_baby_girl_as_first_name_is_missing_and_flagged():
    row = _std(first_name="Baby Girl", last_name_1="Garcia")
    for column in ("given_name_full", "given_name_1", "given_name_1_canonical"):
        assert pd.isna(row[column]), column
    assert pd.isna(row["given_name_1_phonetic"])
    assert {"NAME_PLACEHOLDER", "GIVEN_NAME_MISSING"} <= _flags(row)
    assert row["surname_paternal"] == "GARCIA"


@pytest.mark.parametrize("value", ["UNKNOWN", "unk", "FNU", "N/A", "none", "Female", "MINOR"])
def test_placeholder_first_name_is_missing(value):
    row = _std(first_name=value, last_name_1="Lopez")
    assert pd.isna(row["given_name_1"])
    assert "NAME_PLACEHOLDER" in _flags(row)


def test_adult_male_as_a_parents_name_is_missing_and_flagged():
    row = _std(
        first_name="Ana",
        last_name_1="Ruiz",
        parent1_first="ADULT MALE",
        parent1_last="Unknown",
        parent2_first="Rosa",
        parent2_last="Ruiz",
    )
    assert (row["parent_given_a"], row["parent_surnames_key"]) == ("ROSA", "RUIZ")
    assert pd.isna(row["parent_given_b"])
    assert _flags(row) == {"NAME_PLACEHOLDER"}


def test_placeholder_surname_is_missing_and_flagged():
    row = _std(first_name="Ana", last_name_1="LNU")
    assert pd.isna(row["surname_full"]) and row["surname_count"] == 0
    assert row["surname_form"] == "NONE"
    assert {"NAME_PLACEHOLDER", "SURNAME_MISSING"} <= _flags(row)


@pytest.mark.parametrize("letter", ["D", "n.", "J"])
def test_a_one_letter_surname_field_is_no_surname(letter):
    row = _std(first_name="Ana", last_name_1=letter)
    assert pd.isna(row["surname_full"]) and row["surname_count"] == 0
    assert {"NAME_PLACEHOLDER", "SURNAME_MISSING"} <= _flags(row)


def test_a_one_letter_second_surname_leaves_the_first():
    row = _std(first_name="Ana", last_name_1="Garcia", last_name_2="L")
    assert row["surname_units_key"] == "GARCIA" and row["surname_form"] == "SINGLE"


def test_not_applicable_second_surname_leaves_a_single_surname():
    row = _std(first_name="Ana", last_name_1="Garcia", last_name_2="N/A")
    assert row["surname_units_key"] == "GARCIA" and row["surname_form"] == "SINGLE"
    assert pd.isna(row["surname_maternal"])
    assert _flags(row) == {"NAME_PLACEHOLDER"}


def test_no_middle_name_marker_does_not_become_the_second_given_name():
    row = _std(first_name="Jose", middle_name="NMN", last_name_1="Garcia")
    assert pd.isna(row["middle_name_std"]) and pd.isna(row["given_name_2"])


def test_real_name_that_contains_a_placeholder_word_is_kept():
    row = _std(first_name="Maria Unk", last_name_1="Baby")
    assert (row["given_name_1"], row["given_name_2"]) == ("MARIA", "UNK")
    assert row["surname_paternal"] == "BABY"  # BABY is a placeholder in given fields only
    assert "NAME_PLACEHOLDER" not in _flags(row)


def test_minor_is_a_placeholder_given_name_but_a_real_surname():
    row = _std(first_name="Minor", last_name_1="Minor")
    assert pd.isna(row["given_name_1"])
    assert row["surname_paternal"] == "MINOR"


@pytest.mark.parametrize(("first", "second"), [("Baby A", "Baby B"), ("Twin A", "Twin B")])
def test_twins_order_marks_are_not_placeholders(first, second):
    a = _std(first_name=first, last_name_1="Garcia")
    b = _std(first_name=second, last_name_1="Garcia")
    assert pd.notna(a["given_name_full"]) and a["given_name_full"] != b["given_name_full"]
    assert "NAME_PLACEHOLDER" not in _flags(a) | _flags(b)


def test_suffix_after_a_placeholder_is_still_read():
    row = _std(first_name="Unknown Jr", last_name_1="Garcia")
    assert pd.isna(row["given_name_1"]) and row["suffix_std"] == "JR"


_placeholder_values = [r["value"] for r in _data("placeholder_names.csv")]
_name_like = st.one_of(
    st.sampled_from(_placeholder_values),
    st.sampled_from(_placeholder_values).map(str.lower),
    st.sampled_from(_placeholder_values).map(lambda v: v.replace(" ", "/")),
    st.tuples(
        st.sampled_from(["Maria", "Jose", "Baby", "A"]), st.sampled_from(_placeholder_values)
    ).map(" ".join),
    st.text(max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(_name_like, _name_like)
def test_placeholder_detection_is_idempotent(first, last):
    # Standardizing what standardization produced finds no new placeholder and changes nothing.
    # The one designed exception: a number ending the field keeps twins apart (BABY 1 is no
    # placeholder) while the standardized name drops it (BABY), which alone is one.
    folded = fold_name(pd.Series([first, last], dtype="string")).fillna("")
    assume(not folded.str.contains(r"\d\s*$", regex=True).any())
    once = _std(first_name=first, last_name_1=last)
    again = _std(first_name=once["given_name_full"], last_name_1=once["surname_full"])
    assert "NAME_PLACEHOLDER" not in _flags(again)
    for column in ("given_name_full", "given_name_1", "surname_full", "surname_units_key"):
        assert once[column] is again[column] or once[column] == again[column], column


@settings(max_examples=200, deadline=None)
@given(_name_like)
def test_a_placeholder_field_loses_nothing_else(first):
    # A placeholder only ever empties its own field: the surname and parents are untouched.
    row = _std(first_name=first, last_name_1="Garcia", parent1_first="Rosa")
    assert row["surname_paternal"] == "GARCIA" and row["parent_given_a"] == "ROSA"
    if "NAME_PLACEHOLDER" in _flags(row):
        assert pd.isna(row["given_name_full"]) and "GIVEN_NAME_MISSING" in _flags(row)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_any_text = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["Jr", "V", "DE LA", "Y", "DEL", "-", "'", "\u200f\u202e", "😀👨‍👩‍👧"]),
    st.just("A" * 10_000),
)
_records = st.lists(st.fixed_dictionaries(dict.fromkeys(NAME_INPUT_COLUMNS, _any_text)), max_size=6)


def _frame(records: list[dict], index_start: int = 100) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(NAME_INPUT_COLUMNS), dtype="string")
    frame.index = range(index_start, index_start + len(frame))
    return frame


_allowed_flags = {
    str(f)
    for f in (
        QualityFlag.GIVEN_NAME_MISSING,
        QualityFlag.SURNAME_MISSING,
        QualityFlag.NAME_HAS_DIGITS,
        QualityFlag.NAME_TRUNCATED_OR_INITIAL,
        QualityFlag.SUFFIX_IN_NAME,
        QualityFlag.SURNAME_FROM_MIDDLE_NAME,
        QualityFlag.NAME_PLACEHOLDER,
    )
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records)
def test_standardize_names_never_raises_and_keeps_the_index(records):
    raw = _frame(records)
    out = standardize_names(raw)
    assert list(out.columns) == list(NAME_OUTPUT_COLUMNS)
    assert out.index.equals(raw.index)
    for flags in out["name_flags"]:
        assert set(filter(None, flags.split(FLAG_SEPARATOR))) <= _allowed_flags
    # Derived name values are folded: no lower case, no punctuation, no double spaces.
    for col in ("given_name_1", "given_name_2", "surname_paternal", "surname_units_key"):
        for v in out[col].dropna():
            assert v == v.upper().strip() and "  " not in v and "-" not in v


def test_missing_input_columns_count_as_empty():
    out = standardize_names(pd.DataFrame({"last_name_1": ["Garcia"]}, index=[7]))
    assert out.loc[7, "surname_paternal"] == "GARCIA"
    assert QualityFlag.GIVEN_NAME_MISSING in out.loc[7, "name_flags"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_folding_is_idempotent(text):
    once = fold_name(pd.Series([text]))
    twice = fold_name(once)
    assert once.equals(twice)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records)
def test_standardizing_already_folded_names_changes_nothing(records):
    raw = _frame(records)
    first = standardize_names(raw)
    refolded = raw.apply(fold_name)
    second = standardize_names(refolded)
    # Folding turns hyphens into spaces, so only the HYPHENATED label may become COMBINED.
    first_form = first["surname_form"].replace("HYPHENATED", "COMBINED")
    assert first_form.equals(second["surname_form"])
    rest = [c for c in NAME_OUTPUT_COLUMNS if c != "surname_form"]
    pd.testing.assert_frame_equal(first[rest], second[rest])


@settings(max_examples=100, deadline=None)
@given(_records)
def test_parent_order_never_matters(records):
    raw = _frame(records)
    swapped = raw.rename(
        columns={
            "parent1_first": "parent2_first",
            "parent2_first": "parent1_first",
            "parent1_last": "parent2_last",
            "parent2_last": "parent1_last",
        }
    )
    cols = ["parent_given_a", "parent_given_b", "parent_surnames_key"]
    pd.testing.assert_frame_equal(standardize_names(raw)[cols], standardize_names(swapped)[cols])


_SURNAME_PAIRS = [
    ("García", "López"),
    ("Hernández", "Muñoz"),
    ("Martínez", "de la Cruz"),
    ("Pérez", "Del Río"),
    ("Rodríguez", "Gómez"),
    ("Núñez", "Ibáñez"),
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_SURNAME_PAIRS),
    st.sampled_from(["split", "space", "hyphen", "y", "double_space"]),
    st.sampled_from([str.upper, str.lower, str.title, lambda s: s]),
    st.booleans(),
)
def test_case_hyphen_space_and_accent_variants_give_the_same_units(pair, layout, case, strip):
    paternal, maternal = pair
    if strip:  # accents dropped, as many state systems do
        paternal, maternal = (fold_name(pd.Series([paternal, maternal]))).tolist()
    paternal, maternal = case(paternal), case(maternal)
    fields = {
        "split": (paternal, maternal),
        "space": (f"{paternal} {maternal}", None),
        "hyphen": (f"{paternal}-{maternal}", None),
        "y": (f"{paternal} y {maternal}", None),
        "double_space": (f"  {paternal}   {maternal} ", None),
    }[layout]
    row = _std(first_name="Ana", last_name_1=fields[0], last_name_2=fields[1])
    reference = _std(first_name="ANA", last_name_1=pair[0], last_name_2=pair[1])
    for col in ("surname_paternal", "surname_maternal", "surname_units_key", "surname_count"):
        assert row[col] == reference[col]


def _known(name: str) -> list[str]:
    return [r["name"] for r in _data(name)]


_realistic_surname = st.one_of(
    st.sampled_from(_known("known_surnames.csv")),
    st.sampled_from(
        ["De la Cruz", "DEL RIO", "Delacruz", "de los Santos", "San Martín", "De la O"]
    ),
)
_realistic_given = st.one_of(
    st.sampled_from(_known("known_given_names.csv")),
    st.sampled_from(["María de Jesús", "Juan de Dios", "Maria del Carmen", "José Luis", "Lupe"]),
)


@settings(max_examples=100, deadline=None)
@given(
    _realistic_given,
    st.one_of(st.none(), _realistic_given),
    _realistic_surname,
    st.one_of(st.none(), _realistic_surname),
)
def test_feeding_derived_names_back_gives_the_same_units(first, middle, last_1, last_2):
    row = _std(first_name=first, middle_name=middle, last_name_1=last_1, last_name_2=last_2)
    again = _std(
        first_name=row["given_name_full"],
        middle_name=row["middle_name_std"],
        last_name_1=row["surname_full"],
    )
    assert again["surname_units_key"] == row["surname_units_key"]
    assert again["surname_count"] == row["surname_count"]
    assert again["given_name_1"] == row["given_name_1"]
    # The units key itself is a fixed point: its units parse back to themselves.
    assert (
        _std(last_name_1=row["surname_units_key"])["surname_units_key"] == row["surname_units_key"]
    )
