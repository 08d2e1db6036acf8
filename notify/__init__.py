"""Notifications: a durable outbox, email templates and the SMTP sender.

Other packages turn what happened into an email (``notify.events``) and
``enqueue`` it in the outbox, inside their own transaction if they like; the
``Dispatcher`` claims due emails and sends them through ``SmtpSender``, with
retries and a lease, so every email goes out at least once and, by its dedup
key, at most once (invariant 5). ``notify.catcher`` is the embedded default's
SMTP server: it keeps what it receives in a Maildir.

Depends on the standard library, SQLAlchemy, Jinja2, aiosmtplib and aiosmtpd
only; nothing here imports ``controlplane``.
"""
