"""The rendered Asterisk config set (asterisk_conf.render).

Invariant 7: no subscriber-controlled string can inject dialplan syntax or
config lines."""

from __future__ import annotations

import crypt
from dataclasses import replace

import jinja2
import pytest
from jinja2.sandbox import SecurityError

from asterisk_conf import render
from asterisk_conf.render import (
    MODULES,
    AsteriskConfig,
    AsteriskDirs,
    ConfigValueError,
    EndpointConf,
    TemplateError,
    crypt_hash,
    display_name,
    render_config,
)
from asterisk_conf.password import crypt_sha512
from provisioning.credentials import DEFAULT_REALM, md5_cred

HOSTILE_NAMES = [
    'Evil" <666>',
    "Eve;comment",
    "Eve,with,commas",
    "Eve\n[evil]\ntype=endpoint",
    "Eve\r\nexten => _X.,1,System(rm -rf /)",
    "${SHELL(id)}",
    "$[1+1] ${CALLERID(num)}",
    "Eve\\\"quote",
    "<script>alert(1)</script>",
]

# any digest credential: these tests render config, no phone registers
MD5_CRED = md5_cred("alice", DEFAULT_REALM, "a-password-for-tests")
REALM = DEFAULT_REALM


def config(**changes) -> AsteriskConfig:
    base = AsteriskConfig(
        system_name="cp1",
        dirs=AsteriskDirs.under("/srv/clickphone/unit"),
        ari_username="clickphone",
        ari_password_crypt=crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512)),
        ari_app="clickphone",
        http_port=8088,
        sip_port=5060,
        rtp_start=10000,
        rtp_end=10199,
        endpoints=(EndpointConf("alice", MD5_CRED, REALM, "Alice", "1000", "sub1"),),
        agi_secret="unit-agi-secret",
    )
    return replace(base, **changes)


def with_display_name(name: str) -> AsteriskConfig:
    return config(endpoints=(EndpointConf("alice", MD5_CRED, REALM, name, "1000", "sub1"),))


def test_the_whole_config_set_is_rendered():
    files = render_config(config())
    for name in ("asterisk.conf", "modules.conf", "http.conf", "ari.conf", "pjsip.conf",
                 "extensions.conf", "cdr.conf", "cdr_custom.conf", "logger.conf", "rtp.conf"):
        assert files[name].strip(), name


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_display_name_adds_no_config_line(hostile):
    """A display name cannot add lines, sections or options to pjsip.conf."""
    benign = render_config(with_display_name("Alice"))["pjsip.conf"].splitlines()
    rendered = render_config(with_display_name(hostile))["pjsip.conf"].splitlines()
    assert len(rendered) == len(benign)
    changed = [(a, b) for a, b in zip(benign, rendered) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("callerid = ")


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_display_name_is_reduced_to_inert_characters(hostile):
    """Quotes, angle brackets, ;, ,, $, {}, [], \\ and line breaks never
    reach the config."""
    cleaned = display_name(hostile)
    assert not set(cleaned) & set('"<>;,${}[]()\\\r\n=')


def test_display_name_keeps_letters_of_any_script():
    assert display_name("Ștefan Țăran-O'Neil") == "Ștefan Țăran-O'Neil"


@pytest.mark.parametrize("field", ["username", "md5_cred", "realm", "caller_id_number", "account_code"])
@pytest.mark.parametrize("hostile", ["a;b", "a,b", "a\nb", "${X}", "a b", "a]b", 'a"b', ""])
def test_hostile_identifier_is_refused(field, hostile):
    """Identifiers are refused, not mangled: a changed username would be a
    different account."""
    with pytest.raises(ConfigValueError):
        endpoint = replace(EndpointConf("alice", MD5_CRED, REALM, "Alice", "1000", "sub1"), **{field: hostile})
        render_config(config(endpoints=(endpoint,)))


def test_hostile_app_name_cannot_change_the_dialplan():
    with pytest.raises(ConfigValueError):
        render_config(config(ari_app="app)\nexten => s,1,System(id"))


def test_ari_password_hash_uses_the_fewest_rounds_asterisk_accepts():
    """Asterisk checks the hash on every ARI request; the generated password
    is what resists guessing, so the hash takes crypt's minimum of rounds."""
    hashed = crypt_sha512("s3cret")
    assert hashed.startswith("$6$rounds=1000$")
    assert crypt.crypt("s3cret", hashed) == hashed
    assert crypt_hash(hashed) == hashed


def test_ari_password_is_stored_crypt_hashed():
    files = render_config(config())
    assert "s3cret" not in files["ari.conf"]
    line = next(l for l in files["ari.conf"].splitlines() if l.startswith("password ="))
    stored = line.split("=", 1)[1].strip()
    assert crypt.crypt("s3cret", stored) == stored
    assert "password_format = crypt" in files["ari.conf"]


def test_clear_ari_password_is_refused():
    with pytest.raises(ConfigValueError):
        render_config(config(ari_password_crypt="plain-password"))


def test_modules_conf_loads_only_the_listed_modules():
    lines = render_config(config())["modules.conf"].splitlines()
    assert "autoload = no" in lines
    loaded = [l.split("=", 1)[1].strip() for l in lines if l.startswith("load =")]
    assert loaded == list(MODULES)


def test_http_binds_loopback_by_default():
    assert "bindaddr = 127.0.0.1" in render_config(config())["http.conf"]


def test_cdr_custom_mapping_quotes_every_column_including_ids():
    mapping = render_config(config())["cdr_custom.conf"].splitlines()[-1]
    name, columns = mapping.split(" => ")
    assert name == "clickphone.csv"
    assert columns.count("${CSV_QUOTE(") == 20
    for column in ("CDR(uniqueid)", "CDR(linkedid)", "CDR(accountcode)", "SYSTEMNAME"):
        assert "${CSV_QUOTE(${" + column + "})}" in columns


def test_every_call_context_enters_the_stasis_app():
    dialplan = render_config(config())["extensions.conf"]
    assert "[from-subscribers]" in dialplan
    # the caller's source address comes with the call: no request to ask for it
    assert "Stasis(clickphone,outbound,src=${CHANNEL(pjsip,remote_addr)})" in dialplan
    assert "[from-carrier]" in dialplan and "Stasis(clickphone,inbound)" in dialplan


def test_dialplan_template_with_syntax_error_is_refused_with_its_line():
    template = "[ctx]\nexten => s,1,NoOp()\n same => n,Stasis({{ ari.app | ident }\n"
    with pytest.raises(TemplateError) as refused:
        render_config(config(), dialplan_template=template)
    assert refused.value.lineno == 3


def test_dialplan_template_with_unknown_variable_is_refused_with_its_line():
    template = "[ctx]\n\nexten => s,1,Stasis({{ no_such_thing }})\n"
    with pytest.raises(TemplateError) as refused:
        render_config(config(), dialplan_template=template)
    assert refused.value.lineno == 3


def test_dialplan_template_edit_is_rendered():
    template = "[my-ctx]\nexten => _X.,1,Stasis({{ ari.app | ident }},outbound)\n"
    assert render_config(config(), dialplan_template=template)["extensions.conf"] == (
        "[my-ctx]\nexten => _X.,1,Stasis(clickphone,outbound)\n"
    )


ESCAPE_PAYLOAD = "{{ cycler.__init__.__globals__.os.popen('id -un').read() }}"


def test_admin_dialplan_template_cannot_reach_python_internals():
    """Issue 10 defect 9, invariant 7: an admin's dialplan template renders
    in the sandbox; the issue's escape to os.popen is a SecurityError,
    refused as a TemplateError naming its line."""
    template = f"[ctx]\nexten => s,1,NoOp({ESCAPE_PAYLOAD})\n"
    with pytest.raises(TemplateError) as refused:
        render_config(config(), dialplan_template=template)
    assert isinstance(refused.value.__cause__, SecurityError)
    assert refused.value.lineno == 2


@pytest.mark.parametrize("expression", ["'x' * 10**9", "[1] * 10**9", "10 ** 64 ** 64 ** 64", "2 ** 1000000"])
def test_admin_dialplan_template_cannot_build_huge_values(expression):
    """Issue 10 defect 9: the sandbox also bounds ``*`` and ``**``, which
    would otherwise exhaust memory while rendering."""
    with pytest.raises(TemplateError) as refused:
        render_config(config(), dialplan_template=f"[ctx]\n; {{{{ {expression} }}}}\n")
    assert isinstance(refused.value.__cause__, SecurityError)


def test_sandboxed_rendering_is_byte_identical_to_plain_jinja():
    """Issue 10 defect 9: moving every shipped template into the sandbox
    changes no byte of the config set."""
    cfg = config(dids=("40215550100",), agi_port=4673, agi_secret="s3cret-token")
    sandboxed = render_config(cfg)
    context = render._context(cfg)
    plain = jinja2.Environment(
        loader=jinja2.FileSystemLoader(render.TEMPLATES_DIR), undefined=jinja2.StrictUndefined,
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    plain.filters.update(render._environment(jinja2.BaseLoader()).filters)
    for template in sorted(render.TEMPLATES_DIR.glob("*.conf.j2")):
        name = template.name.removesuffix(".j2")
        variables = render._endpoints_context(cfg, context) if name == "pjsip.conf" else context
        assert sandboxed[name] == plain.get_template(template.name).render(variables), name
    with open(render.TEMPLATES_DIR / render.DIALPLAN_TEMPLATE) as fh:
        assert render_config(cfg, dialplan_template=fh.read())["extensions.conf"] == sandboxed["extensions.conf"]
