"""Privacy-preserving linkage: link two states' records without sharing names or birth dates.

For states that may not exchange raw identifiers, each state standardizes its own file, then
`encode`s it with a random secret both states share (and the linking party does not hold);
the encoded files are linked with `link_encoded` / `dedupe_encoded`, which score them with a
model over encoded columns only (`encoded_comparisons`), trained without labels the same way
as the plain model (`train_encoded`).

* keys.py: the secret (must be a random key), the scrypt-derived keys and the fingerprint;
* encoding.py: what each column becomes (keyed hashes, salted Bloom filters, clear flags);
* comparisons.py: the encoded model's comparison levels (SQL for DuckDB and Spark);
* linkage.py: training, and encoded linkage as a front end of the pipeline.

docs/privacy.md says what this protects, what it does not (the threat model), and what it costs
in accuracy (benchmarks/privacy_accuracy.py) and buys against a frequency attack
(benchmarks/privacy_attack.py).
"""

from migrant_linkage.privacy.comparisons import bloom_dice_sql, encoded_comparisons
from migrant_linkage.privacy.encoding import (
    BLOOM_BITS,
    BLOOM_COLUMNS,
    BLOOM_HASHES,
    BLOOM_SALT_COLUMN,
    BLOOM_WORDS,
    CLEAR_COLUMNS,
    DROPPED_COLUMNS,
    FUZZY_DICE,
    HASHED_COLUMNS,
    LEVELS_NOT_ENCODED,
    bloom_word_columns,
    encode,
)
from migrant_linkage.privacy.keys import (
    ENCODING_VERSION,
    MIN_SECRET_HEX_DIGITS,
    EncodingError,
    check_secret,
    key_fingerprint,
)
from migrant_linkage.privacy.linkage import (
    check_encoded,
    dedupe_encoded,
    link_encoded,
    train_encoded,
)

__all__ = [
    "BLOOM_BITS",
    "BLOOM_COLUMNS",
    "BLOOM_HASHES",
    "BLOOM_SALT_COLUMN",
    "BLOOM_WORDS",
    "CLEAR_COLUMNS",
    "DROPPED_COLUMNS",
    "ENCODING_VERSION",
    "FUZZY_DICE",
    "HASHED_COLUMNS",
    "LEVELS_NOT_ENCODED",
    "MIN_SECRET_HEX_DIGITS",
    "EncodingError",
    "bloom_dice_sql",
    "bloom_word_columns",
    "check_encoded",
    "check_secret",
    "dedupe_encoded",
    "encode",
    "encoded_comparisons",
    "key_fingerprint",
    "link_encoded",
    "train_encoded",
]
