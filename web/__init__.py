"""HTTP: the admin API (aiohttp). Adapters only: routes read JSON, call the
owning packages' services and answer JSON; no business rules live here.
Operations spanning packages are composed once, in :mod:`web.admin_operations`,
on the owners' functions (the CLI calls them too)."""
