"""Password hashing of the agent desk.

Passwords are hashed with argon2id (`hash_password`, `verify_password`); older scrypt hashes
still verify and are replaced by an argon2id hash at the next successful login
(`password_needs_rehash`), as are argon2 hashes made with weaker parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 10

#: argon2id with argon2-cffi's defaults: RFC 9106's second recommended option (t=3,
#: m=64 MiB, p=4), above OWASP's minimum (m=19 MiB, t=2, p=1).
_ARGON2 = PasswordHasher()
_ARGON2_PREFIX = "$argon2"
#: Limits of the scrypt hashes still accepted (made by earlier versions).
_MAX_SCRYPT_N = 2**20


def hash_password(password: str) -> str:
    """Hash a password with argon2id and a random salt.

    Returns:
        The PHC string, "$argon2id$v=19$m=...,t=...,p=...$salt$hash".
    """
    return _ARGON2.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Check a hash of earlier versions: "scrypt$n$r$p$salt_b64$hash_b64"."""
    try:
        scheme, n_text, r_text, p_text, salt_text, hash_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(hash_text, validate=True)
    except (ValueError, binascii.Error, AttributeError):
        return False
    if scheme != "scrypt" or not (1 < n <= _MAX_SCRYPT_N) or n & (n - 1) or not 0 < r <= 32:
        return False
    if not 0 < p <= 16 or not expected:
        return False
    try:
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=256 * n * r + 1024 * 1024,
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a stored hash: argon2 (current) or scrypt (earlier versions).

    A malformed hash never matches.
    """
    if not isinstance(stored, str):
        return False
    if stored.startswith(_ARGON2_PREFIX):
        try:
            return bool(_ARGON2.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def password_needs_rehash(stored: str) -> bool:
    """Whether a stored hash should be replaced at the next successful login: anything that
    is not argon2id with the current parameters (scrypt, weaker argon2 settings)."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return bool(_ARGON2.check_needs_rehash(stored))
    except (InvalidHashError, ValueError):
        return True


_DUMMY_HASH: str | None = None


def dummy_password_check(password: str) -> None:
    """Spend the time of a password check, so an unknown user name answers as slowly."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    verify_password(password, _DUMMY_HASH)


def password_problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with a new password, in Indonesian, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter."
    if password.strip() != password:
        return "Kata sandi tidak boleh diawali atau diakhiri spasi."
    if username and password.lower() == username.strip().lower():
        return "Kata sandi tidak boleh sama dengan nama pengguna."
    return None
