"""crypt(3) hashing of the ARI password, so ari.conf never holds it in clear."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import warnings

# Asterisk checks this hash on every ARI request and caches nothing: at
# crypt's default 5,000 rounds the check was about 80 % of Asterisk's CPU
# at 50 calls/s. The password is generated (96 random bits and more), so
# extra rounds add no protection; 1,000 is SHA-crypt's minimum.
ROUNDS = 1000


def crypt_sha512(password: str) -> str:
    """Return the SHA-512 crypt hash ($6$, ``ROUNDS`` rounds) of ``password``.

    Uses the standard library's crypt where it still exists (Python < 3.13),
    otherwise ``openssl passwd -6``; both call the same algorithm Asterisk's
    crypt_validate checks.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # type: ignore[import-not-found]
    except ImportError:
        crypt = None
    salt = f"rounds={ROUNDS}${secrets.token_hex(8)}"
    if crypt is not None:
        return crypt.crypt(password, f"$6${salt}")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("hashing the ARI password needs openssl: apt-get install openssl")
    done = subprocess.run(
        [openssl, "passwd", "-6", "-salt", salt, "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()
