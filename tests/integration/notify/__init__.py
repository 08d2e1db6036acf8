"""Integration tests of notify: real aiosmtpd servers, SQLite and PostgreSQL."""
