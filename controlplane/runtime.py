"""The running control plane: database, Asterisk (testbed or external), the
ARI app, the FastAGI server, the admin HTTP API and the scheduler, in one
process, started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from admission.service import Admission
from agi.admit import admission_routes
from agi.server import AgiServer
from ari_app.controller import CallController
from ari_app.voicemail import VoicemailService
from ari_app.client import AriClient
from ari_app.stasis import StasisApp
from asterisk_conf.render import CDR_CUSTOM_FILENAME
from billing.tailer import CdrTailer
from billing.tariff_store import ensure_default_tariff
from asterisk_conf.testbed import Testbed
from notify.catcher import MaildirCatcher
from notify.dispatcher import Dispatcher
from notify.notifier import Notifier
from notify.outbox import RetryPolicy
from notify.render import Renderer
from notify.smtp import SmtpConfig, SmtpSender, TlsMode
from provisioning import services as provisioning
from provisioning.did_cache import OurNumbers

from . import db, migrate
from .account_alerts import emit_daily_limit_alert
from .asterisk_setup import agi_peer_networks, external_asterisk_config, testbed_for
from .asterisk_sync import provisioned, provisioned_config, sync_external, sync_testbed
from .demo import ensure_demo_subscriber
from .first_operator import FirstLogin, ensure_first_operator
from .invoicing_wiring import invoicing_service
from .recipients import AccountDirectory, account_contact
from web.admin_operations import OneOffInvoicing
from web.app import AdminServices, build_admin_app
from .scheduled_jobs import register_jobs
from .scheduler import build_scheduler
from .settings import Settings, private_state_dir

log = logging.getLogger(__name__)

PROVISIONING_SYNC_SECONDS = 15


async def open_state(settings: Settings) -> tuple[AsyncEngine, provisioning.Endpoint]:
    """The start's first step: the private state folder (0700), the database
    migrated (a SQLite file 0600), the default tariff and the demo
    subscriber. Returns the engine (the caller disposes it) and the demo
    endpoint, whose password is set on the first start only: it is shown
    then, and never stored."""
    private_state_dir(settings.state_dir)
    await migrate.upgrade(settings.effective_database_url)
    engine = db.create_engine(settings.effective_database_url)
    try:
        await ensure_default_tariff(engine)
        return engine, await ensure_demo_subscriber(engine, settings.sip_realm)
    except BaseException:
        await engine.dispose()
        raise


@dataclass
class ControlPlane:
    """Owns every long-running part; ``start`` then ``stop``."""

    settings: Settings
    engine: AsyncEngine | None = None
    testbed: Testbed | None = None
    ari: AriClient | None = None
    agi: AgiServer | None = None
    demo_endpoint: provisioning.Endpoint | None = None
    first_login: FirstLogin | None = None
    catcher: MaildirCatcher | None = None
    dispatcher: Dispatcher | None = None
    notifier: Notifier | None = None
    admission: Admission | None = None
    calls: CallController | None = None
    voicemail: VoicemailService | None = None
    admin_url: str = ""
    our_numbers: OurNumbers | None = None
    renderer: Renderer = field(default_factory=Renderer)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        """Start every part; on failure, stop what was started and raise."""
        try:
            await self._start_parts()
        except BaseException:
            await self.stop()
            raise

    async def _start_parts(self) -> None:
        s = self.settings
        self.engine, self.demo_endpoint = await open_state(s)
        self._stack.push_async_callback(self.engine.dispose)
        self.first_login = await ensure_first_operator(self.engine, s.state_dir)
        self.renderer = Renderer(timezone=s.timezone)
        self.our_numbers = OurNumbers(self.engine)  # admission's and the CDR tailer's one copy
        await self.our_numbers.refresh()
        # the outbox first: call flows and admin actions enqueue into it
        await self._start_notifications()

        if s.asterisk_mode == "testbed":
            base = testbed_for(s, [])
            self.testbed = replace(base, config=provisioned_config(base.config, await provisioned(self.engine)))
            log.info("starting the Asterisk testbed", extra={"root": str(self.testbed.root)})
            await asyncio.to_thread(self.testbed.start)
            self._stack.push_async_callback(asyncio.to_thread, self.testbed.stop)

        self.admission = Admission(self.engine, our_numbers=self.our_numbers)
        self._stack.callback(self.admission.close)
        self.ari = AriClient(s.effective_ari_url, s.ari_username, s.ari_password, s.ari_app)
        self._stack.push_async_callback(self.ari.close)
        self.voicemail = VoicemailService(self.ari, self.engine, self.notifier,
                                          keep_recording=not s.voicemail_delete_after_email,
                                          compressed_audio=s.voicemail_compressed_audio)
        self.calls = CallController(
            self.ari, self.admission, self.engine,
            on_daily_limit=self.daily_limit_reached, on_unanswered=self.voicemail.on_unanswered,
            on_missed=self.voicemail.report_missed_call,
        )
        StasisApp(self.ari, self.calls.flows())
        self.calls.start()
        # stopped before the client closes: live calls are handed to Asterisk's hard caps
        self._stack.push_async_callback(self.calls.stop, hang_up=False)
        self.ari.start()
        await self.ari.wait_connected(timeout=30)

        self.agi = AgiServer(routes=admission_routes(self.admission), secret=s.agi_secret,
                             allowed_peers=await agi_peer_networks(s))
        await self.agi.start(s.agi_host, s.agi_port)
        self._stack.push_async_callback(self.agi.stop)

        invoicing = invoicing_service(self.engine, self.notifier)  # one for the API and the scheduler
        admin_app = build_admin_app(AdminServices(
            engine=self.engine, admin_token=s.admin_token, sip_realm=s.sip_realm, notifier=self.notifier,
            account_contact=account_contact, end_calls=self.calls.end_calls, end_call=self.calls.end_call,
            provisioning_changed=self.provisioning_changed, health=self.health,
            invoicing=invoicing, supplier=s.supplier,
            one_off_invoicing=OneOffInvoicing(invoicing, s.supplier, s.activation_requires_payment),
        ))
        runner = web.AppRunner(admin_app, access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, s.admin_host, s.admin_port)
        await site.start()
        self.admin_url = f"http://{s.admin_host}:{s.admin_port}"

        scheduler = build_scheduler(s)
        register_jobs(scheduler, self.engine, s, invoicing, ari=self.ari)
        # Subscribers added by the CLI (another process) reach Asterisk too.
        scheduler.add_job(self.provisioning_changed, "interval", seconds=PROVISIONING_SYNC_SECONDS,
                          id="asterisk-sync", max_instances=1, coalesce=True)
        scheduler.start()
        self._stack.callback(scheduler.shutdown, wait=False)

        self._start_cdr_tailer()

    def _start_cdr_tailer(self) -> None:
        """Ingest the CDRs Asterisk appends to its cdr_custom file."""
        s = self.settings
        path = self.testbed.cdr_dir / CDR_CUSTOM_FILENAME if self.testbed else s.effective_cdr_file
        tailer = CdrTailer(self.engine, path, system_name=s.asterisk_system_name, fmt="clickphone",
                           on_net=self.our_numbers)
        stop = asyncio.Event()
        task = asyncio.create_task(tailer.run(stop, interval=1.0), name="cdr-tailer")

        async def stop_tailer() -> None:
            stop.set()
            await task
            tailer.close()

        self._stack.push_async_callback(stop_tailer)

    async def daily_limit_reached(self, account_id: int) -> None:
        """A call was stopped by its account's daily limit: alert the subscriber."""
        await emit_daily_limit_alert(self.engine, account_id, self.notifier)

    async def provisioning_changed(self) -> None:
        """Put the database's endpoints, DIDs and allowlists into the running
        Asterisk (no restart) and forget cached DIDs."""
        if self.admission is not None:
            self.admission.forget_cached()  # before the refresh: forgetting after it would read the DIDs twice
        await self.our_numbers.refresh()
        if self.testbed is not None:
            await sync_testbed(self.engine, self.testbed)
        elif self.settings.asterisk_config_dir is not None and self.ari is not None:
            await sync_external(self.engine, external_asterisk_config(self.settings),
                                self.settings.asterisk_config_dir, self.ari)

    async def _start_notifications(self) -> None:
        """The outbox dispatcher, and the local SMTP catcher when no relay is
        configured."""
        s = self.settings
        if s.smtp_host:
            smtp = SmtpConfig(host=s.smtp_host, port=s.smtp_port, tls=s.smtp_tls,
                              username=s.smtp_username, password=s.smtp_password,
                              from_address=s.mail_from, from_name=s.mail_from_name)
        else:
            self.catcher = MaildirCatcher(s.maildir, port=s.smtp_catcher_port)
            await self.catcher.start()
            self._stack.push_async_callback(self.catcher.stop)
            smtp = SmtpConfig(host="127.0.0.1", port=self.catcher.port, tls=TlsMode.NONE,
                              from_address=s.mail_from, from_name=s.mail_from_name)
        self.dispatcher = Dispatcher(
            self.engine, SmtpSender(smtp), policy=RetryPolicy(max_attempts=s.notify_max_attempts)
        )
        self.notifier = Notifier(self.renderer, AccountDirectory(), wake=self.dispatcher.wake)
        task = asyncio.create_task(self.dispatcher.run(), name="outbox-dispatcher")

        async def stop_dispatcher() -> None:
            self.dispatcher.stop()
            await task

        self._stack.push_async_callback(stop_dispatcher)

    async def stop(self) -> None:
        """Stop every started part, the testbed last."""
        await self._stack.aclose()

    async def health(self) -> dict[str, object]:
        """Return database and Asterisk connectivity for /health."""
        database_ok = False
        if self.engine is not None:
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                database_ok = True
            except Exception as exc:  # health reports, never raises
                log.warning("database ping failed", extra={"error": str(exc)})
        asterisk_ok = bool(self.ari and self.ari.connected.is_set())
        return {
            "status": "ok" if database_ok and asterisk_ok else "degraded",
            "database": {"connected": database_ok},
            "asterisk": {"connected": asterisk_ok, "mode": self.settings.asterisk_mode},
        }
