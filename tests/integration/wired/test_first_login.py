"""The console's first login through the real start (`make run`'s
ControlPlane.start): the first start creates ``operator`` and its banner
shows the password and the console URL; the next start on the same state
folder creates nothing and points at secrets.toml."""

from __future__ import annotations

import tomllib

from access import users
from controlplane.cli import _banner

from .support import running_plane


async def test_the_first_start_makes_the_operator_and_the_next_one_points_at_secrets_toml(private_root, tmp_path):
    state_dir = tmp_path / "state"
    async with running_plane(private_root, state_dir) as (plane, _mail, _port):
        first_banner = _banner(plane)
        console = f"{plane.admin_url}/console/"
        operator = await users.get_user(plane.engine, "operator")
    kept = tomllib.loads((state_dir / "secrets.toml").read_text())["operator_password"]
    async with running_plane(private_root, state_dir) as (plane, _mail, _port):
        later_banner = _banner(plane)
        again = await users.verify_login(plane.engine, "operator", kept, source="127.0.0.1")
        operators = [user for user in await users.list_users(plane.engine) if user.role == "operator"]

    assert operator.role == "operator" and again.id == operator.id and len(operators) == 1
    assert console in first_banner and f"user=operator password={kept}" in first_banner
    assert "/console/" in later_banner and kept not in later_banner and "operator_password in" in later_banner
