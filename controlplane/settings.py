"""One settings object, read from CLICKPHONE_* environment variables and an
optional TOML file.

Precedence: environment > TOML file (``CLICKPHONE_CONFIG``) > default.
Every field is documented in the README; a test keeps the two in step.
Secrets are never defaults: the embedded default generates the ARI password,
the admin API token and the FastAGI secret on first run and keeps them in
``<state_dir>/secrets.toml`` (git-ignored, 0600). The state folder holds
them, the SQLite database, emails and Asterisk's rendered config: it is
made 0700 (and an existing one tightened to it) by ``private_state_dir``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ari_app.voicemail_audio import COMPRESSED_FORMATS
from billing.invoicing.supplier import InvalidSupplierError, Supplier, checked_supplier

ENV_PREFIX = "CLICKPHONE_"
CONFIG_ENV = "CLICKPHONE_CONFIG"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class Settings:
    state_dir: Path = _doc(
        "Git-ignored folder for generated secrets, the SQLite database, the "
        "testbed's Asterisk root and runtime files.",
        default=REPO_ROOT / ".state",
    )
    database_url: str = _doc(
        "SQLAlchemy async URL. Empty: SQLite at <state_dir>/clickphone.sqlite3. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db.",
        default="",
    )
    asterisk_mode: str = _doc(
        "`testbed` starts the local Asterisk in a Debian sid root; `external` "
        "uses the Asterisk at ari_url.",
        default="testbed",
    )
    asterisk_root: Path | None = _doc(
        "Where the testbed's Debian sid root is built and cached. Empty: "
        "<state_dir>/asterisk-root.",
        default=None,
    )
    asterisk_system_name: str = _doc(
        "Asterisk's systemname; with the uniqueid it is the CDR's idempotency key.",
        default="clickphone1",
    )
    asterisk_http_bind_address: str = _doc(
        "Address Asterisk's HTTP server (ARI) binds. Keep loopback unless "
        "Asterisk runs on another host or container.",
        default="127.0.0.1",
    )
    asterisk_http_port: int = _doc("Port of Asterisk's HTTP server (ARI).", default=8088)
    ari_url: str = _doc(
        "Base URL of ARI. Empty in testbed mode: http://127.0.0.1:<asterisk_http_port>.",
        default="",
    )
    ari_username: str = _doc("ARI user.", default="clickphone")
    ari_password: str = _doc(
        "ARI password. Empty: generated on first run into <state_dir>/secrets.toml.",
        default="",
    )
    ari_app: str = _doc("Name of the Stasis application.", default="clickphone")
    sip_bind_address: str = _doc(
        "Address Asterisk's SIP transport binds (UDP and TCP).", default="127.0.0.1"
    )
    sip_port: int = _doc("SIP port of Asterisk's transport.", default=5060)
    sip_realm: str = _doc(
        "Digest realm new SIP endpoints' credentials are made in (letters, digits, "
        "`.`, `_`, `-`; up to 64). Only MD5(user:realm:password) is stored, so a "
        "change applies to endpoints created or given a new password afterwards; "
        "the others keep the realm they were made in.",
        default="clickphone",
    )
    rtp_port_start: int = _doc("First RTP port.", default=10000)
    rtp_port_end: int = _doc("Last RTP port.", default=10199)
    cdr_file: Path | None = _doc(
        "The cdr_custom file the control plane ingests (clickphone.csv). Empty: the "
        "testbed's, or /var/log/asterisk/cdr-custom/clickphone.csv with an external Asterisk.",
        default=None,
    )
    asterisk_config_dir: Path | None = _doc(
        "With an external Asterisk: its config folder, shared with this process "
        "(pjsip.conf and extensions.conf are rewritten there when subscribers, DIDs "
        "or allowlists change, and reloaded over ARI). Empty: they change only when "
        "`clickphone asterisk render` runs.",
        default=None,
    )
    carrier_host: str = _doc(
        "host[:port] of the carrier trunk that outbound calls go to. Empty: no trunk.",
        default="",
    )
    agi_host: str = _doc("FastAGI server listen address.", default="127.0.0.1")
    agi_port: int = _doc("FastAGI server port.", default=4573)
    agi_dialplan_host: str = _doc(
        "Address the dialplan's FastAGI URLs connect to. Empty: agi_host, or "
        "127.0.0.1 when agi_host is a wildcard (0.0.0.0, ::).",
        default="",
    )
    agi_secret: str = _doc(
        "Shared secret every FastAGI URL of the dialplan carries "
        "(agi://host:port/admit?secret=...); connections without it are refused. "
        "16 to 128 characters of A-Z a-z 0-9 _ -. Empty: generated on first run "
        "into <state_dir>/secrets.toml.",
        default="",
    )
    agi_allowed_peers: str = _doc(
        "Space-separated addresses or networks (at most 100) the FastAGI server "
        "accepts connections from; others are logged and closed. Empty: loopback "
        "and, with an external Asterisk, the addresses of ari_url's host.",
        default="",
    )
    admin_host: str = _doc("Admin HTTP API listen address.", default="127.0.0.1")
    admin_port: int = _doc("Admin HTTP API port.", default=8080)
    admin_token: str = _doc(
        "Bearer token of the admin HTTP API. Empty: generated on first run into "
        "<state_dir>/secrets.toml.",
        default="",
    )
    smtp_host: str = _doc(
        "The SMTP relay emails go to. Empty: the embedded catcher, which writes "
        "every email into <state_dir>/maildir.",
        default="",
    )
    smtp_port: int = _doc("SMTP relay port.", default=587)
    smtp_tls: str = _doc("none, starttls or tls (implicit).", default="starttls")
    smtp_username: str = _doc("SMTP AUTH user; empty: no AUTH.", default="")
    smtp_password: str = _doc("SMTP AUTH password.", default="")
    smtp_catcher_port: int = _doc(
        "Loopback port of the embedded SMTP catcher (used when smtp_host is empty).",
        default=2525,
    )
    mail_from: str = _doc("Sender address of every email.", default="clickphone@localhost")
    mail_from_name: str = _doc("Sender display name.", default="ClickPhone")
    notify_max_attempts: int = _doc(
        "Delivery attempts (with exponential backoff up to an hour) before an "
        "email is marked dead.",
        default=48,
    )
    notify_sent_retention_days: int = _doc(
        "Days a sent email stays in the outbox before the daily purge at 03:45 deletes it, "
        "at least 7: its dedup key goes with it, so it must outlive any replay of its event.",
        default=90,
    )
    voicemail_compressed_audio: str = _doc(
        "`opus` attaches an Ogg Opus copy of each voicemail beside the WAV when "
        "`opusenc` (Debian's opus-tools) is on PATH; `none` sends the WAV alone.",
        default="opus",
    )
    voicemail_delete_after_email: bool = _doc(
        "`true` deletes a voicemail recording from Asterisk once its email is queued; "
        "`false` keeps it there until voicemail_retention_days have passed.",
        default=True,
    )
    voicemail_retention_days: int = _doc(
        "Days a voicemail recording may stay in Asterisk (kept ones, and any whose "
        "email could not be queued) before the daily purge at 03:30 deletes it.",
        default=30,
    )
    supplier_name: str = _doc(
        "The operator's legal name, printed as the supplier (Furnizor) on invoices.",
        default="ClickPhone",
    )
    supplier_vat_id: str = _doc(
        "The operator's CIF/CUI on invoices, e.g. RO12345674 (digits alone when not "
        "VAT-registered); its check digit is verified.",
        default="",
    )
    supplier_registration: str = _doc(
        "The operator's trade register number (Nr. Reg. Com.) on invoices, e.g. J40/1234/2020.",
        default="",
    )
    supplier_address: str = _doc("The operator's registered office on invoices.", default="")
    supplier_iban: str = _doc(
        "The IBAN customers pay invoices into (spaces allowed); its ISO 13616 "
        "checksum is verified.",
        default="",
    )
    supplier_bank: str = _doc("The bank holding supplier_iban, on invoices.", default="")
    activation_requires_payment: bool = _doc(
        "`true`: a subscriber created with one-off charges (a plan's set-up fee, equipment) "
        "stays inactive until its one-off invoice is paid (paid calls refused, 112/116xxx/0800 "
        "connect); `false` makes it active at once. Each creation may say otherwise "
        "(`--inactive-until-paid` / `--active-at-once`).",
        default=False,
    )
    timezone: str = _doc("The operator's time zone.", default="Europe/Bucharest")
    log_level: str = _doc("DEBUG, INFO, WARNING or ERROR.", default="INFO")

    # -- derived values ----------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'clickphone.sqlite3'}"

    @property
    def effective_asterisk_root(self) -> Path:
        return self.asterisk_root or self.state_dir / "asterisk-root"

    @property
    def effective_ari_url(self) -> str:
        if self.ari_url:
            return self.ari_url.rstrip("/")
        if self.asterisk_mode == "external":
            raise SettingsError("asterisk_mode=external needs CLICKPHONE_ARI_URL")
        return f"http://{self.asterisk_http_bind_address}:{self.asterisk_http_port}"

    @property
    def effective_cdr_file(self) -> Path:
        return self.cdr_file or Path("/var/log/asterisk/cdr-custom/clickphone.csv")

    @property
    def effective_agi_dialplan_host(self) -> str:
        """Where Asterisk's FastAGI calls connect: agi_dialplan_host, else
        agi_host unless it is a wildcard address."""
        if self.agi_dialplan_host:
            return self.agi_dialplan_host
        return "127.0.0.1" if self.agi_host in ("", "0.0.0.0", "::") else self.agi_host

    @property
    def maildir(self) -> Path:
        return self.state_dir / "maildir"

    @property
    def supplier(self) -> Supplier:
        """The invoices' supplier, checked and normalised; a bad detail raises
        SettingsError naming its setting."""
        try:
            return checked_supplier(
                Supplier(
                    self.supplier_name, self.supplier_vat_id, self.supplier_registration,
                    self.supplier_address, self.supplier_iban, self.supplier_bank,
                )  # fmt: skip
            )
        except InvalidSupplierError as exc:
            raise SettingsError(f"setting supplier_{exc.field}: {exc}") from exc

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def setting_docs() -> dict[str, tuple[str, Any]]:
    """Name → (doc, default) for every setting, for the README check."""
    return {
        f.name: (f.metadata["doc"], f.default) for f in dataclasses.fields(Settings)
    }


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}


def _convert(name: str, raw: Any, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            # TOML gives a bool; the environment gives text
            return raw if isinstance(raw, bool) else _BOOLEANS[str(raw).strip().lower()]
        if kind.startswith("int"):
            return int(raw)
        if "Path" in kind:
            return Path(raw).expanduser() if raw not in ("", None) else None
        return str(raw)
    except (TypeError, ValueError, KeyError) as exc:
        raise SettingsError(f"setting {name}: {raw!r} is not a valid {kind}") from exc


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build Settings from the environment and the optional TOML file, then
    fill the generated secrets from the state folder."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {path}: {exc}") from exc
        for key, raw in data.items():
            if key not in fields:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = raw
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in fields:
            raise SettingsError(f"unknown setting in environment: {key}")
        values[name] = raw
    converted = {k: _convert(k, v, fields[k].type) for k, v in values.items()}
    if converted.get("state_dir") is None:
        converted.pop("state_dir", None)
    settings = Settings(**converted)
    if settings.asterisk_mode not in ("testbed", "external"):
        raise SettingsError("asterisk_mode must be 'testbed' or 'external'")
    if settings.voicemail_compressed_audio not in COMPRESSED_FORMATS:
        raise SettingsError(f"voicemail_compressed_audio must be one of {', '.join(COMPRESSED_FORMATS)}")
    if not _REALM.fullmatch(settings.sip_realm):
        raise SettingsError("sip_realm must be 1 to 64 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    if settings.voicemail_retention_days < 1:
        raise SettingsError("voicemail_retention_days must be at least 1")
    if settings.notify_sent_retention_days < MIN_SENT_RETENTION_DAYS:
        raise SettingsError(f"notify_sent_retention_days must be at least {MIN_SENT_RETENTION_DAYS}")
    if settings.agi_secret and not _AGI_SECRET.fullmatch(settings.agi_secret):
        raise SettingsError("agi_secret must be 16 to 128 characters of A-Z a-z 0-9 _ -")
    agi_allowed_networks(settings)  # refused at start, naming the bad entry
    settings.supplier  # refused at start, not on the 1st when the invoices are due
    return with_generated_secrets(settings)


MIN_SENT_RETENTION_DAYS = 7
"""A sent email's dedup key is purged with it: a week outlives any replay of
an event (a call flow resumed after a restart, an invoice run retried)."""
_AGI_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")
MAX_AGI_ALLOWED_PEERS = 100
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def agi_allowed_networks(settings: Settings) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Return the networks of ``agi_allowed_peers`` (loopback when it is
    empty; the caller adds the external Asterisk's addresses); raise
    SettingsError naming a bad entry or too many."""
    entries = settings.agi_allowed_peers.split()
    if len(entries) > MAX_AGI_ALLOWED_PEERS:
        raise SettingsError(f"agi_allowed_peers: at most {MAX_AGI_ALLOWED_PEERS} entries, not {len(entries)}")
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(f"agi_allowed_peers: {entry[:60]!r} is not an address or network") from None
    return tuple(networks) or LOOPBACK_NETWORKS


GENERATED_SECRETS = ("ari_password", "admin_token", "agi_secret")
"""Settings that, left empty, are generated once and kept in secrets.toml."""

SECRETS_FILE = "secrets.toml"

# provisioning's "realm" rule: it goes into SIP challenges and pjsip.conf
_REALM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def private_state_dir(path: Path) -> Path:
    """Return ``path``, made (with missing parents) mode 0700 if absent and
    tightened to 0700 if it is there: only the owner may list or read the
    secrets, database, emails and configs inside."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def read_secrets(state_dir: Path) -> dict[str, str]:
    """The generated secrets kept in <state_dir>/secrets.toml (empty when
    there is none); a file left readable by others is tightened to 0600."""
    path = private_state_dir(state_dir) / SECRETS_FILE
    if not path.exists():
        return {}
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written by an older version, or by hand
    return tomllib.loads(path.read_text())


def store_secrets(state_dir: Path, stored: dict[str, str]) -> None:
    """Write ``stored`` as <state_dir>/secrets.toml, mode 0600 (values are
    URL-safe tokens: no TOML escaping needed)."""
    fd = os.open(private_state_dir(state_dir) / SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before
    with os.fdopen(fd, "w") as fh:
        for key, value in stored.items():
            fh.write(f'{key} = "{value}"\n')


def with_generated_secrets(settings: Settings) -> Settings:
    """Fill empty secrets from <state_dir>/secrets.toml, generating them on
    first use (file mode 0600). A secret given in the environment or the
    config file is never written there."""
    missing = [name for name in GENERATED_SECRETS if not getattr(settings, name)]
    if not missing:
        return settings
    stored = read_secrets(settings.state_dir)
    if any(name not in stored for name in missing):
        for name in missing:
            stored.setdefault(name, secrets.token_urlsafe(24))
        store_secrets(settings.state_dir, stored)
    return settings.replace(**{name: stored[name] for name in missing})
