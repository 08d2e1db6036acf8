"""access: who may do what — admin users with argon2id passwords, roles and
their permissions, personal API tokens, login lockout, and the audit log.

Depends on sqlbase and the standard library only (and argon2-cffi); the HTTP
routes and the CLI call its functions, they own none of its rules.
"""
