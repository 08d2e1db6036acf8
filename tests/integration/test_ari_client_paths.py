"""The ARI client's typed helpers call operations Asterisk 22 declares.

The helpers are hand-written; this holds them to ARI's own Swagger files
(in the testbed's root): each one's method and path is an operation there,
each query parameter it sends is one that operation declares, and none it
requires is missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ari_app.client import AriClient, _query


# Every typed helper, called with what a call flow would pass.
CALLS = [
    ("ping", (), {}),
    ("asterisk_info", (), {"only": ["build", "status"]}),
    ("list_applications", (), {}),
    ("get_application", (), {}),
    ("get_endpoint", ("PJSIP", "test1001"), {}),
    ("list_channels", (), {}),
    ("get_channel", ("ch-1",), {}),
    ("originate", ("PJSIP/carrier/sip:0712345678@carrier",), {
        "app": "clickphone", "app_args": "dialled", "caller_id": "1001", "timeout": 30,
        "variables": {"CALLERID(name)": "x"}, "channel_id": "ch-2", "other_channel_id": "ch-3",
        "originator": "ch-1", "formats": ["ulaw", "alaw"],
    }),
    ("originate", ("Local/echo@clickphone-internal",), {
        "context": "clickphone-internal", "extension": "echo", "priority": 1, "label": "start",
    }),
    ("answer", ("ch-1",), {}),
    ("hangup", ("ch-1", "busy"), {"reason_code": "17"}),
    ("continue_in_dialplan", ("ch-1",), {"context": "c", "extension": "e", "priority": 2, "label": "l"}),
    ("play", ("ch-1", ["sound:vm-intro", "sound:beep"]), {"lang": "en", "offsetms": 0, "skipms": 3000,
                                                          "playback_id": "pb-1"}),
    ("record", ("ch-1", "vm/1001/msg1"), {
        "max_duration_seconds": 120, "max_silence_seconds": 5, "if_exists": "overwrite",
        "beep": True, "terminate_on": "#",
    }),
    ("set_variable", ("ch-1", "TIMEOUT(absolute)", "300"), {}),
    ("get_variable", ("ch-1", "CDR(billsec)"), {}),
    ("create_bridge", (), {"bridge_id": "br-1", "name": "call"}),
    ("create_bridge", (["mixing", "dtmf_events"],), {}),
    ("add_channel", ("br-1", ["ch-1", "ch-4"]), {"role": "participant", "absorb_dtmf": False,
                                                 "mute": False, "inhibit_connected_line_updates": True}),
    ("remove_channel", ("br-1", "ch-1"), {}),
    ("destroy_bridge", ("br-1",), {}),
    ("stop_playback", ("pb-1",), {}),
    ("stop_recording", ("msg1",), {}),
    ("get_stored_recording", ("msg1",), {}),
    ("stored_recording_file", ("msg1",), {}),
    ("delete_stored_recording", ("msg1",), {}),
]


def swagger_operations(rest_api: Path) -> list[dict]:
    operations = []
    for path in sorted(rest_api.glob("*.json")):
        for api in json.loads(path.read_text()).get("apis", []):
            pattern = re.sub(r"\{[^/]+\}", "[^/]+", api["path"])
            for op in api.get("operations", []):
                operations.append({"method": op["httpMethod"], "path": api["path"],
                                   "regex": re.compile(f"^{pattern}$"),
                                   "params": op.get("parameters", [])})
    return operations


class Recorder(AriClient):
    """Records what would be sent instead of sending it."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", "u", "p", "clickphone")
        self.sent: list[tuple[str, str, dict, object]] = []

    async def _send(self, method, path, *, params, json, timeout, events=False):
        self.sent.append((method, path, _query(params), json))
        return b'{"value": ""}'


@pytest.fixture(scope="module")
def operations(asterisk_root):
    """ARI's Swagger files ship in the testbed root (built if missing)."""
    return swagger_operations(asterisk_root / "usr" / "share" / "asterisk" / "rest-api")


@pytest.mark.parametrize("name,args,kwargs", CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
async def test_every_typed_helper_calls_a_declared_operation_with_declared_parameters(
    operations, name, args, kwargs
):
    client = Recorder()
    await getattr(client, name)(*args, **kwargs)
    (method, path, query, body), = client.sent

    matches = [op for op in operations if op["method"] == method and op["regex"].match(path)]
    # a literal segment (/channels/externalMedia) beats a template ({channelId})
    matches.sort(key=lambda op: op["path"].count("{"))
    assert matches, f"{name}: {method} {path} is not an ARI operation"
    declared = matches[0]["params"]
    query_names = {p["name"] for p in declared if p["paramType"] == "query"}
    assert set(query) <= query_names, f"{name}: undeclared {set(query) - query_names}"
    required = {p["name"] for p in declared if p["paramType"] == "query" and p.get("required")}
    assert required <= set(query), f"{name}: missing required {required - set(query)}"
    if body is not None:
        body_names = {p["name"] for p in declared if p["paramType"] == "body"}
        assert set(body) <= body_names
