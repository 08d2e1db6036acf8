"""crypt(3) hashing of the ARI password, so ari.conf never holds it in clear."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import warnings


def crypt_sha512(password: str) -> str:
    """Return the SHA-512 crypt hash ($6$) of ``password``.

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
    if crypt is not None:
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("hashing the ARI password needs openssl: apt-get install openssl")
    salt = secrets.token_hex(8)
    done = subprocess.run(
        [openssl, "passwd", "-6", "-salt", salt, "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()
