"""HTTP: the admin API (aiohttp). Adapters only: routes read JSON, call the
owning packages' services and answer JSON; no business rules live here."""
