"""SIP digest credentials: what is kept of an endpoint's password.

The password itself is never stored. Asterisk checks SIP digest
authentication (RFC 3261/7616, algorithm MD5) against
HA1 = MD5(username:realm:password), which pjsip accepts pre-computed
(``password_digest = MD5:<hex>``, the successor of ``md5_cred``): that hash
is all the database and the rendered pjsip.conf hold.

Why a hash rather than the password encrypted with a key kept outside the
database: Asterisk needs HA1 (or the password) in its config file anyway, so
encryption would still leave a usable credential at rest there, and would add
a key to generate, back up separately and rotate. HA1 reveals no password,
is useless in any other realm, and needs no key. It still lets whoever
reads it register as the endpoint in its realm: the database and the config
files stay private (0600, see controlplane.settings and controlplane.db).

The realm is part of the hash, so each endpoint keeps the realm its hash was
made with (the ``realm`` column) and is challenged with that realm: changing
the ``sip_realm`` setting applies to endpoints created (or given a new
password) afterwards and never breaks the existing ones.
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_REALM = "clickphone"
MD5_CRED = re.compile(r"[0-9a-f]{32}")


def md5_cred(username: str, realm: str, password: str) -> str:
    """Return HA1, the hex MD5 of ``username:realm:password``: what Asterisk
    needs to check a SIP digest answer made with that password."""
    # MD5 is the algorithm SIP digest defines and every phone answers with;
    # it is not used here to slow down guessing (see the module docstring).
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
