"""The shared secret and the keys derived from it.

Every hash in an encoded file is a known-plaintext oracle for the secret: the sex column has
three values and the most frequent surname hash is almost surely GARCIA, so anyone holding an
encoded file can test guessed secrets offline, at the speed of HMAC, until one reproduces those
hashes. The secret must therefore be random, not chosen: `check_secret` accepts only a key of
at least 256 bits written as hex (what `secrets.token_hex(32)` prints) that does not look
patterned. The keys are then derived through scrypt, so even a weak secret that slipped past
the check costs a memory-hard KDF run per guess instead of one HMAC.

The public fingerprint (`key_fingerprint`, the `encoding_key` column) lets the linking party
refuse files encoded with different secrets. It is an HMAC under the scrypt-derived key, so a
guess at it costs the same scrypt run as a guess at any other hash.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter
from functools import lru_cache

__all__ = [
    "ENCODING_VERSION",
    "MIN_SECRET_HEX_DIGITS",
    "EncodingError",
    "check_secret",
    "domain_key",
    "key_fingerprint",
    "master_key",
]

#: Written into every encoded file; two files can only be linked with the same version and key.
#: v3: secret checked and stretched with scrypt; Bloom filters salted with the birth year; no
#: clear bit-count column. Files of earlier versions must be re-encoded.
ENCODING_VERSION = "hmac-sha256+bloom-bigram-v3"

#: 64 hex digits = 256 bits, what `secrets.token_hex(32)` prints.
MIN_SECRET_HEX_DIGITS = 64

#: A random hex key of 64 digits has a digit entropy near 3.8 bits (the lowest of 100,000
#: `token_hex(32)` draws was 3.36) and almost no repeated digit triples (lowest share of
#: distinct triples 0.90). Keys far below either are typed or patterned, not drawn.
_MIN_DIGIT_ENTROPY_BITS = 3.0
_MIN_DISTINCT_TRIPLES = 0.75

#: scrypt cost: 2^15 x 8 x 128 bytes = 32 MiB and about 0.1 s per derivation, once per encode
#: (OWASP's minimum for scrypt is 2^17 x 8 with p=1 for passwords; our secret is a random key,
#: the KDF is a second line). The salt is public and fixed per scheme: both states must derive
#: the same keys with nothing else shared, and it keeps tables built for other systems useless.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_SALT = f"migrant-linkage/{ENCODING_VERSION}/scrypt-salt".encode()

_HOW_TO_MAKE_ONE = (
    "make one with  python -c 'import secrets; print(secrets.token_hex(32))'  , share it out "
    "of band between the two data holders only, and keep it in a file readable by you alone"
)


class EncodingError(ValueError):
    """Encoded inputs cannot be used together (different secret or encoding version), the input
    to `encode` is not a standardized table, or the secret is not a random key."""


def check_secret(secret: str | bytes) -> bytes:
    """The secret as bytes, or EncodingError when it is not a random key of at least 256 bits.

    A text secret must be hex (surrounding whitespace, such as a file's final newline, is
    ignored); raw bytes must be at least 32. The message never repeats the secret."""
    if isinstance(secret, str):
        text = secret.strip().lower()
    elif isinstance(secret, bytes | bytearray):
        text = bytes(secret).hex()
    else:
        raise EncodingError(f"the shared secret must be text or bytes, not {type(secret).__name__}")
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise EncodingError(
            "the shared secret must be a random key written as hex digits, not a password or "
            f"phrase (those can be guessed offline from the encoded file's hashes); {_HOW_TO_MAKE_ONE}"
        )
    if len(text) < MIN_SECRET_HEX_DIGITS:
        raise EncodingError(
            f"the shared secret has {len(text)} hex digits ({len(text) * 4} bits); at least "
            f"{MIN_SECRET_HEX_DIGITS} ({MIN_SECRET_HEX_DIGITS * 4} bits) are needed; {_HOW_TO_MAKE_ONE}"
        )
    if (
        _digit_entropy(text) < _MIN_DIGIT_ENTROPY_BITS
        or _distinct_triples(text) < _MIN_DISTINCT_TRIPLES
    ):
        raise EncodingError(
            "the shared secret looks typed or patterned (repeated or skewed digits), not drawn "
            f"at random; {_HOW_TO_MAKE_ONE}"
        )
    return text.encode("ascii")


def _digit_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _distinct_triples(text: str) -> float:
    triples = [text[i : i + 3] for i in range(len(text) - 2)]
    return len(set(triples)) / len(triples)


@lru_cache(maxsize=16)
def master_key(secret: str | bytes) -> bytes:
    """The 256-bit key every domain key is derived from: scrypt of the checked secret."""
    return hashlib.scrypt(
        check_secret(secret),
        salt=_SCRYPT_SALT,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )


def domain_key(master: bytes, domain: str) -> bytes:
    """One key per hashing domain (HMAC as a KDF over the master key)."""
    return hmac.new(
        master, f"migrant-linkage/{ENCODING_VERSION}/{domain}".encode(), "sha256"
    ).digest()


def key_fingerprint(secret: str | bytes) -> str:
    """A public check value of the secret: two states compare fingerprints (or the
    `encoding_key` column of their files) to confirm they used the same secret. Guessing the
    secret from it costs one scrypt derivation per guess."""
    return domain_key(master_key(secret), "fingerprint").hex()[:32]
