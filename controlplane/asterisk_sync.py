"""Provisioning into the running Asterisk, without a restart.

The database is the source: subscriber endpoints (with their account
codes), our DIDs, and each account's allowlist (admission's call policy).
:func:`provisioned` reads them, :func:`sync_asterisk` renders the config
set on a base config (ports, carrier, ARI: what the database does not
hold), writes the files that changed and reloads the modules that read them:

- the local testbed: :func:`testbed_applier` (``Testbed.reload``, through
  Asterisk's CLI);
- any Asterisk whose config folder this process writes (production, the
  docker-compose service; setting ``asterisk_config_dir``):
  :func:`sync_external` renders only the files the database drives
  (``pjsip.conf``, ``extensions.conf``; the rest is the operator's, written
  once by ``clickphone asterisk render``) and :func:`ari_applier` writes
  them and reloads ``res_pjsip.so`` / ``pbx_config.so`` through ARI
  (``PUT /asterisk/modules/{module}``).

An account's allowlist becomes the ACL of its endpoints (``deny`` all,
``permit`` each network), so Asterisk itself refuses their REGISTERs and
INVITEs from anywhere else — admission checks the source address again for
every call. Every value is checked before rendering: an endpoint whose data
cannot be rendered safely, or whose account's allowlist cannot be read, is
left out (it can neither register nor call) and named in the report, so one
bad row never blocks everyone else's provisioning.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Awaitable, Callable, Collection

from sqlalchemy.ext.asyncio import AsyncEngine

from admission.service import account_policy
from ari_app.client import AriClient
from asterisk_conf.render import (
    AsteriskConfig,
    ConfigValueError,
    EndpointConf,
    ident,
    network,
    render_config,
    write_config,
)
from asterisk_conf.testbed import Testbed
from billing import ledger
from provisioning import services as provisioning
from provisioning.records import Endpoint

log = logging.getLogger(__name__)

# config file → the module whose reload reads it
RELOADS: dict[str, str] = {"pjsip.conf": "res_pjsip.so", "extensions.conf": "pbx_config.so"}

Apply = Callable[[AsteriskConfig, list[str]], Awaitable[None]]
"""``apply(config, changed_files)``: put a rendered config into Asterisk."""


@dataclass(frozen=True)
class Provisioned:
    """What the database says Asterisk should know."""

    endpoints: tuple[EndpointConf, ...]
    dids: tuple[str, ...]
    left_out: tuple[str, ...] = ()  # "<username>: why", one per endpoint left out


@dataclass(frozen=True)
class SyncReport:
    endpoints: int
    dids: int
    changed: tuple[str, ...]  # config files that changed (and were applied)
    left_out: tuple[str, ...] = field(default=())


def account_code_of(endpoint: Endpoint) -> str:
    """The endpoint's CDR accountcode (as the control plane has always rendered it)."""
    return endpoint.account_code or f"sub{endpoint.subscriber_id}"


async def provisioned(engine: AsyncEngine) -> Provisioned:
    """Read endpoints (those that may register), DIDs and allowlists from the database."""
    endpoints = await provisioning.registrable_endpoints(engine)
    dids = tuple(did.number for did in await provisioning.list_dids(engine))
    permits: dict[str, tuple[str, ...] | str] = {}  # account code → networks, or why unreadable
    confs: list[EndpointConf] = []
    left_out: list[str] = []
    for endpoint in endpoints:
        code = account_code_of(endpoint)
        if code not in permits:
            permits[code] = await _allowlist(engine, code)
        permit = permits[code]
        if isinstance(permit, str):
            left_out.append(f"{endpoint.username}: {permit}")
            continue
        try:
            conf = EndpointConf(
                username=endpoint.username, md5_cred=endpoint.md5_cred, realm=endpoint.realm,
                display_name=endpoint.display_name, caller_id_number=endpoint.caller_id_number,
                account_code=code, permit=permit,
            )
        except ConfigValueError as exc:  # a digest credential or realm of the wrong shape
            left_out.append(f"{endpoint.username}: {exc}")
            continue
        problem = _unrenderable(conf)
        if problem:
            left_out.append(f"{endpoint.username}: {problem}")
            continue
        confs.append(conf)
    for item in left_out:
        log.warning("endpoint left out of Asterisk's config", extra={"endpoint": item})
    return Provisioned(tuple(confs), tuple(d for d in dids if _safe_did(d)), tuple(left_out))


async def _allowlist(engine: AsyncEngine, account_code: str) -> tuple[str, ...] | str:
    """The account's networks as canonical strings, or why they cannot be read."""
    account = await ledger.find_account(engine, account_code)
    if account is None:
        return ()  # no account: nothing to restrict (admission refuses its calls)
    try:
        async with engine.connect() as conn:
            policy = await account_policy(conn, account.id)
    except ValueError as exc:
        return f"allowlist of account {account_code} unreadable ({exc})"
    return tuple(str(n) for n in policy.allowed_networks)


def _unrenderable(conf: EndpointConf) -> str:
    try:
        for value in (conf.username, conf.caller_id_number, conf.account_code):
            ident(value)
        for net in conf.permit:
            network(net)
    except ConfigValueError as exc:
        return str(exc)
    return ""


def _safe_did(number: str) -> bool:
    return number.isdigit() and number.isascii() and len(number) <= 20


def provisioned_config(base: AsteriskConfig, data: Provisioned) -> AsteriskConfig:
    """The base config with the database's endpoints and DIDs."""
    return replace(base, endpoints=data.endpoints, dids=data.dids)


async def sync_asterisk(
    engine: AsyncEngine, base: AsteriskConfig, etc_dir: Path, apply: Apply,
    dialplan_template: str | None = None, only: Collection[str] | None = None,
) -> SyncReport:
    """Render the database's state on ``base`` and apply the files that
    differ from those in ``etc_dir`` (nothing when none does); with
    ``only``, just those files are compared."""
    data = await provisioned(engine)
    config = provisioned_config(base, data)
    files = render_config(config, dialplan_template)
    changed = [name for name, text in sorted(files.items())
               if (only is None or name in only) and _read(etc_dir / name) != text]
    if changed:
        await apply(config, changed)
        log.info("Asterisk config synchronised", extra={"changed": changed, "endpoints": len(data.endpoints),
                                                        "dids": len(data.dids)})
    return SyncReport(len(data.endpoints), len(data.dids), tuple(changed), data.left_out)


async def sync_testbed(engine: AsyncEngine, testbed: Testbed) -> SyncReport:
    """Synchronise the local testbed (its current config is the base)."""
    etc_dir = testbed.root / testbed.config.dirs.etc.lstrip("/")
    return await sync_asterisk(engine, testbed.config, etc_dir, testbed_applier(testbed),
                               testbed.dialplan_template)


async def sync_external(
    engine: AsyncEngine, base: AsteriskConfig, etc_dir: Path, client: AriClient,
    dialplan_template: str | None = None,
) -> SyncReport:
    """Synchronise an Asterisk this process shares a config folder with:
    the database-driven files only, reloaded over ARI."""
    return await sync_asterisk(engine, base, etc_dir, ari_applier(client, etc_dir, dialplan_template),
                               dialplan_template, only=tuple(RELOADS))


def testbed_applier(testbed: Testbed) -> Apply:
    """Apply through ``Testbed.reload`` (re-render, write, reload by CLI)."""

    async def apply(config: AsteriskConfig, changed: list[str]) -> None:
        await asyncio.to_thread(testbed.reload, config)

    return apply


def ari_applier(client: AriClient, etc_dir: Path, dialplan_template: str | None = None) -> Apply:
    """Apply by writing the files into ``etc_dir`` (Asterisk's config folder)
    and reloading the modules that read the changed ones through ARI."""

    async def apply(config: AsteriskConfig, changed: list[str]) -> None:
        files = render_config(config, dialplan_template)
        await asyncio.to_thread(write_config, {name: files[name] for name in changed}, etc_dir)
        for module in sorted({RELOADS[name] for name in changed if name in RELOADS}):
            await client.reload_module(module)

    return apply


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
