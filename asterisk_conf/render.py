"""Render Asterisk's configuration from Jinja2 templates.

Every value that reaches a config file passes one of four filters, and
StrictUndefined makes a missing value an error rather than an empty string:

- ``ident``: identifiers, numbers, addresses, digests — refused (not
  mangled) unless made only of ``[A-Za-z0-9_.+-/@:]``; nothing in that set can
  end a line, start a comment (``;``), open a section (``[``), separate
  application arguments (``,``) or start a dialplan expression (``$``).
- ``display_name``: free text a subscriber controls — reduced to letters,
  digits, spaces and ``.-_'`` so it can neither break out of its quotes nor
  carry dialplan or config syntax.
- ``crypt_hash``: a crypt(3) hash, checked for shape.
- ``network``: an ACL entry, parsed as an IP network and written canonical.

Every template, the shipped ones and an admin's dialplan edit alike, renders
in Jinja2's immutable sandbox (invariant 7): a template can read the values
it is given but not reach Python's internals (``cycler.__init__.__globals__``
is a SecurityError), call methods that mutate, or build huge values with
``*`` and ``**`` (:data:`MAX_TEMPLATE_VALUE`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

TEMPLATES_DIR = Path(__file__).parent / "templates"
DIALPLAN_TEMPLATE = "extensions.conf.j2"
ENDPOINTS_TEMPLATE = "pjsip.conf.j2"

# The modules the control plane needs, and nothing else.
MODULES: tuple[str, ...] = (
    # configuration, timing, media
    "res_sorcery_config.so", "res_sorcery_memory.so", "res_sorcery_astdb.so",
    "res_timing_timerfd.so", "res_rtp_asterisk.so", "res_crypto.so",
    "codec_ulaw.so", "codec_alaw.so", "codec_gsm.so", "codec_resample.so",
    "format_wav.so", "format_gsm.so", "format_pcm.so", "format_sln.so",
    # SIP
    "res_pjproject.so", "res_pjsip.so", "res_pjsip_session.so", "chan_pjsip.so",
    "res_pjsip_authenticator_digest.so", "res_pjsip_outbound_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_ip.so", "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_registrar.so", "res_pjsip_sdp_rtp.so", "res_pjsip_caller_id.so",
    "res_pjsip_acl.so", "res_pjsip_nat.so", "res_pjsip_logger.so",
    "res_pjsip_header_funcs.so", "res_pjsip_dtmf_info.so", "res_pjsip_pubsub.so",
    "res_pjsip_messaging.so", "res_pjsip_dlg_options.so",
    # dialplan, applications, functions
    "pbx_config.so", "app_dial.so", "app_playback.so", "app_echo.so",
    "app_stasis.so", "app_record.so", "app_playtones.so", "app_verbose.so",
    "app_stack.so",  # Return() of hangup handlers (the FastAGI path's)
    "res_speech.so", "res_agi.so", "func_callerid.so", "func_cdr.so", "func_channel.so",
    "func_timeout.so", "func_strings.so", "func_logic.so", "func_hangupcause.so",
    "bridge_simple.so", "bridge_native_rtp.so", "bridge_softmix.so",
    "bridge_holding.so",
    # ARI
    "res_http_websocket.so", "res_websocket_client.so", "res_stasis.so", "res_stasis_answer.so",
    "res_stasis_playback.so", "res_stasis_recording.so", "res_stasis_snoop.so",
    "res_stasis_device_state.so", "res_ari.so", "res_ari_model.so",
    "res_ari_applications.so", "res_ari_asterisk.so", "res_ari_bridges.so",
    "res_ari_channels.so", "res_ari_endpoints.so", "res_ari_events.so",
    "res_ari_playbacks.so", "res_ari_recordings.so", "res_ari_sounds.so",
    "res_ari_device_states.so",
    # CDRs
    "cdr_csv.so", "res_cdrel_custom.so", "cdr_custom.so",
)

# The project's CDR columns (billing/cdr_format.py parses this order).
CDR_CUSTOM_FILENAME = "clickphone.csv"
CDR_CUSTOM_COLUMNS: tuple[str, ...] = (
    "SYSTEMNAME", "CDR(uniqueid)", "CDR(linkedid)", "CDR(accountcode)",
    "CDR(src)", "CDR(dst)", "CDR(dcontext)", "CDR(clid)", "CDR(channel)",
    "CDR(dstchannel)", "CDR(lastapp)", "CDR(start)", "CDR(answer)", "CDR(end)",
    "CDR(duration)", "CDR(billsec)", "CDR(disposition)", "CDR(userfield)",
    "CDR(cp_dialled)", "CDR(cp_class)",
)

_IDENT = re.compile(r"[A-Za-z0-9_.+\-/@:]{1,200}\Z")
_MD5_CRED = re.compile(r"[0-9a-f]{32}\Z")
_CRYPT = re.compile(r"\$[0-9a-z]+\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9$]{8,200}\Z")
_CDR_COLUMN = re.compile(r"(?:[A-Z]+|CDR\([a-z_]+\))\Z")
_DISPLAY_PUNCTUATION = frozenset(" .-_'")
DISPLAY_NAME_MAX = 40


# Files Asterisk reads at start whose defaults are right for us: rendered
# empty so the log shows real errors only.
DEFAULTS_ONLY_FILES: tuple[str, ...] = (
    "acl.conf", "ccss.conf", "cel.conf", "features.conf", "pjproject.conf",
    "udptl.conf", "websocket_client.conf",
)


DEFAULT_CONTEXTS: dict[str, str] = {
    "from_subscribers": "from-subscribers",
    "from_carrier": "from-carrier",
    "internal": "clickphone-internal",
    "agi": "clickphone-agi",
    "agi_hangup": "clickphone-agi-hangup",
}
# Longest call the dialplan connects to 112/116xxx/0800 on its own when the
# control plane cannot answer (admission's MAX_CALL_SECONDS).
AGI_FREE_MAX_SECONDS = 4 * 3600


class ConfigValueError(ValueError):
    """A value cannot be put into Asterisk's config safely."""


class TemplateError(ValueError):
    """A dialplan template was refused; ``lineno`` says where."""

    def __init__(self, message: str, lineno: int | None):
        super().__init__(f"line {lineno}: {message}" if lineno else message)
        self.lineno = lineno


def ident(value: object) -> str:
    """Return ``value`` as text if it is a safe config identifier, else raise."""
    text = str(value)
    if not _IDENT.match(text):
        raise ConfigValueError(f"unsafe value for Asterisk config: {text!r}")
    return text


def display_name(value: object) -> str:
    """Return free text reduced to characters that are inert in config and
    dialplan (letters, digits, space and ``.-_'``), trimmed to 40 chars."""
    kept = "".join(
        ch if ch in _DISPLAY_PUNCTUATION or unicodedata.category(ch)[0] in "LN"
        else " " if ch.isspace() or unicodedata.category(ch) == "Cc"
        else ""
        for ch in unicodedata.normalize("NFC", str(value))
    )
    return " ".join(kept.split())[:DISPLAY_NAME_MAX]


def network(value: object) -> str:
    """Return ``value`` as a canonical IPv4/IPv6 network (``10.0.0.0/8``),
    or raise: only a parsed address reaches an ACL line."""
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise ConfigValueError(f"not an address or network for an ACL: {value!r}") from None


def crypt_hash(value: object) -> str:
    """Return ``value`` if it has the shape of a crypt(3) hash, else raise."""
    text = str(value)
    if not _CRYPT.match(text):
        raise ConfigValueError("ARI password must be rendered crypt-hashed")
    return text


def cdr_columns(columns: tuple[str, ...]) -> str:
    """Return the cdr_custom mapping: each column CSV-quoted."""
    for column in columns:
        if not _CDR_COLUMN.match(column):
            raise ConfigValueError(f"bad CDR column {column!r}")
    return ",".join(f"${{CSV_QUOTE(${{{c}}})}}" for c in columns)


@dataclass(frozen=True)
class AsteriskDirs:
    """Paths as Asterisk sees them (inside its root)."""

    etc: str
    run: str
    log: str
    spool: str
    varlib: str
    db: str
    cache: str
    modules: str = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
    data: str = "/usr/share/asterisk"

    @classmethod
    def under(cls, base: str) -> "AsteriskDirs":
        return cls(
            etc=f"{base}/etc", run=f"{base}/run", log=f"{base}/log",
            spool=f"{base}/spool", varlib=f"{base}/lib", db=f"{base}/lib",
            cache=f"{base}/cache",
        )


@dataclass(frozen=True)
class EndpointConf:
    """One subscriber SIP endpoint (pjsip endpoint + auth + aor).

    Its auth holds no password: ``md5_cred`` is HA1 = MD5(username:realm:
    password) in hex, rendered as ``password_digest = MD5:<md5_cred>``, and
    ``realm`` is the realm it was made with, which Asterisk's challenge must
    name (a hash made in another realm never matches)."""

    username: str
    md5_cred: str = field(repr=False)  # a password equivalent in its realm
    realm: str
    display_name: str
    caller_id_number: str
    account_code: str
    max_contacts: int = 5
    # The account's allowlist (CIDRs): when not empty, Asterisk itself
    # refuses this endpoint's requests from any other address.
    permit: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _MD5_CRED.match(self.md5_cred):
            raise ConfigValueError(f"{self.username}: md5_cred must be 32 lower-case hex digits")
        ident(self.realm)


@dataclass(frozen=True)
class CarrierConf:
    """The carrier trunk: where outbound calls go, whose address identifies
    inbound calls."""

    host: str  # host[:port]
    match: str  # address or CIDR identifying the carrier's requests


@dataclass(frozen=True)
class AsteriskConfig:
    system_name: str
    dirs: AsteriskDirs
    ari_username: str
    ari_password_crypt: str
    ari_app: str
    http_port: int
    sip_port: int
    rtp_start: int
    rtp_end: int
    http_bind_address: str = "127.0.0.1"
    sip_bind_address: str = "127.0.0.1"
    endpoints: tuple[EndpointConf, ...] = ()
    # Our numbers (E.164 digits): each gets its own inbound extension.
    dids: tuple[str, ...] = ()
    carrier: CarrierConf | None = None
    modules: tuple[str, ...] = MODULES
    contexts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CONTEXTS))
    # Where the dialplan's FastAGI calls reach the control plane, and the
    # shared secret each AGI URL carries (agi://host:port/admit?secret=...):
    # the FastAGI server refuses a connection without it. Required.
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_secret: str = ""
    # The context subscriber endpoints enter: None is contexts["from_subscribers"]
    # (Stasis, the default); contexts["agi"] selects the FastAGI path.
    endpoint_context: str | None = None


# Largest string or sequence (items), and largest power (bits), a template
# may make with ``*`` and ``**`` (a dialplan template has no use for either).
MAX_TEMPLATE_VALUE = 100_000


class _ConfigSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded: ``{{ 'x' * 10**10 }}``
    would otherwise exhaust memory while rendering."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):  # type: ignore[no-untyped-def]
        if operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() * abs(right) > MAX_TEMPLATE_VALUE:
            raise SecurityError("power too large in a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                        and len(seq) * times > MAX_TEMPLATE_VALUE:
                    raise SecurityError(f"a template value may not exceed {MAX_TEMPLATE_VALUE} items")
        return super().call_binop(context, operator, left, right)


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = _ConfigSandbox(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # config files, not HTML: the filters above escape
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ident=ident, display_name=display_name, crypt_hash=crypt_hash, network=network,
        cdr_columns=cdr_columns,
    )
    return env


def _context(cfg: AsteriskConfig) -> dict[str, object]:
    if not cfg.agi_secret:
        raise ConfigValueError("agi_secret is empty: the dialplan's FastAGI URLs need the shared secret")
    contexts = {**DEFAULT_CONTEXTS, **cfg.contexts}
    return {
        "system_name": cfg.system_name,
        "dirs": cfg.dirs,
        "modules": cfg.modules,
        "http": {"bind_address": cfg.http_bind_address, "port": cfg.http_port},
        "ari": {
            "username": cfg.ari_username,
            "password_crypt": cfg.ari_password_crypt,
            "app": cfg.ari_app,
        },
        "rtp": {"start": cfg.rtp_start, "end": cfg.rtp_end},
        "sip": {"bind_address": cfg.sip_bind_address, "port": cfg.sip_port},
        "endpoints": cfg.endpoints,
        "dids": cfg.dids,
        "carrier": cfg.carrier,
        "contexts": contexts,
        "endpoint_context": cfg.endpoint_context or contexts["from_subscribers"],
        "agi": {"host": cfg.agi_host, "port": cfg.agi_port, "secret": cfg.agi_secret,
                "free_max_seconds": AGI_FREE_MAX_SECONDS},
        "cdr_custom": {"filename": CDR_CUSTOM_FILENAME, "columns": CDR_CUSTOM_COLUMNS},
    }


def render_config(
    cfg: AsteriskConfig, dialplan_template: str | None = None
) -> dict[str, str]:
    """Return {file name: text} for the whole config set.

    ``dialplan_template`` replaces the shipped extensions.conf template (an
    admin's edit); a template that does not compile or render is refused with
    a TemplateError naming its line.
    """
    env = _environment(jinja2.FileSystemLoader(TEMPLATES_DIR))
    context = _context(cfg)
    files = {name: "; Rendered by ClickPhone: Asterisk's defaults apply.\n" for name in DEFAULTS_ONLY_FILES}
    for template in sorted(TEMPLATES_DIR.glob("*.conf.j2")):
        name = template.name.removesuffix(".j2")
        if template.name == DIALPLAN_TEMPLATE and dialplan_template is not None:
            files[name] = render_dialplan(dialplan_template, context)
        elif template.name == ENDPOINTS_TEMPLATE:
            files[name] = env.get_template(template.name).render(_endpoints_context(cfg, context))
        else:
            files[name] = env.get_template(template.name).render(context)
    return files


def _endpoints_context(cfg: AsteriskConfig, context: dict[str, object]) -> dict[str, object]:
    # In pjsip.conf, contexts.from_subscribers is the context subscriber
    # endpoints enter; the dialplan keeps its Stasis context under that name.
    if cfg.endpoint_context is None:
        return context
    contexts = {**context["contexts"], "from_subscribers": cfg.endpoint_context}  # type: ignore[dict-item]
    return {**context, "contexts": contexts}


def render_dialplan(source: str, context: dict[str, object]) -> str:
    """Render an admin-supplied dialplan template, refusing it with the line
    number of the first error."""
    env = _environment(jinja2.BaseLoader())
    try:
        return env.from_string(source).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", exc.lineno) from exc
    except (jinja2.TemplateRuntimeError, ConfigValueError, ArithmeticError, TypeError) as exc:
        # UndefinedError and the sandbox's SecurityError are TemplateRuntimeErrors
        raise TemplateError(str(exc), _template_lineno(exc)) from exc


def _template_lineno(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def write_config(files: dict[str, str], etc_dir: Path) -> None:
    """Write the rendered files, replacing each atomically."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        tmp = etc_dir / f".{name}.tmp"
        tmp.unlink(missing_ok=True)  # a leftover would keep its old mode
        # Created 0600, never readable by others even for an instant: pjsip.conf
        # holds digest credentials, ari.conf a password hash. Asterisk reads
        # them as the user that writes them (root, see testbed.py).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        tmp.replace(etc_dir / name)
