"""What the call flows read from channels and build into dial strings
(ari_app.channels, ari_app.causes, ari_app.calls).

Invariant 7: no subscriber-controlled string becomes dial-string syntax."""

from __future__ import annotations

import pytest

from ari_app import causes
from ari_app.calls import CallRecord, channel_ids_of
from ari_app.channels import (
    carrier_dial_string,
    endpoint_contacts_function,
    endpoint_of,
    flow_hints,
    host_of,
    pjsip_endpoint,
    source_address,
    split_contacts,
)
from ari_app.errors import AriError

CARRIER = "PJSIP/{number}@carrier"


@pytest.mark.parametrize("name,endpoint", [
    ("PJSIP/test1001-0000000a", "test1001"),
    ("PJSIP/ep-with-dashes-00000001", "ep-with-dashes"),
    ("Local/0712345678@bench-callers-00000004;2", None),
    ("PJSIP/carrier", None),
    ("PJSIP/evil,x-00000001", None),
])
def test_the_endpoint_is_read_from_a_pjsip_channels_name_only(name, endpoint):
    assert pjsip_endpoint({"name": name}) == endpoint


@pytest.mark.parametrize("address,host", [
    ("127.0.0.1:5062", "127.0.0.1"), ("[2001:db8::1]:5060", "2001:db8::1"),
    ("192.0.2.7", "192.0.2.7"), ("2001:db8::2", "2001:db8::2"), ("", ""),
])
def test_the_source_address_loses_its_port(address, host):
    assert host_of(address) == host


class ChannelVariables:
    """Answers GET /channels/{id}/variable from a dict, counting the requests."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.asked = values, []

    async def get_variable(self, channel_id: str, variable: str) -> str:
        self.asked.append(variable)
        if variable not in self.values:
            raise AriError(404, "Provided variable was not found")
        return self.values[variable]


PJSIP_CALLER = {"id": "c1", "name": "PJSIP/ep1-0000000a"}
LOCAL_CALLER = {"id": "c2", "name": "Local/0712345678@ctx-00000004;2"}


def test_a_flows_name_value_arguments_are_its_hints():
    assert flow_hints(["endpoint=ep1", "src=[2001:db8::1]:5060", "40312345678", "=x"]) == {
        "endpoint": "ep1", "src": "[2001:db8::1]:5060"}


async def test_the_dialplans_arguments_save_the_requests_for_endpoint_and_source():
    channel = ChannelVariables({"CP_ENDPOINT": "other", "CHANNEL(pjsip,remote_addr)": "192.0.2.9:5060"})
    assert await endpoint_of(channel, LOCAL_CALLER, {"endpoint": "ep7"}) == "ep7"
    assert await source_address(channel, PJSIP_CALLER, {"src": "192.0.2.7:5062"}) == "192.0.2.7"
    assert channel.asked == []


async def test_without_arguments_the_channel_is_asked():
    channel = ChannelVariables({"CP_ENDPOINT": "ep7", "CHANNEL(pjsip,remote_addr)": "192.0.2.9:5060"})
    assert await endpoint_of(channel, LOCAL_CALLER, {}) == "ep7"
    assert await source_address(channel, PJSIP_CALLER, {"src": ""}) == "192.0.2.9"
    assert channel.asked == ["CP_ENDPOINT", "CHANNEL(pjsip,remote_addr)"]


async def test_a_pjsip_callers_endpoint_is_its_names_whatever_the_arguments_say():
    """Invariant 7 and toll fraud: an argument never names who pays for a
    subscriber's own phone."""
    channel = ChannelVariables({})
    assert await endpoint_of(channel, PJSIP_CALLER, {"endpoint": "victim"}) == "ep1"
    assert await source_address(channel, LOCAL_CALLER, {"src": "192.0.2.7"}) == ""  # not a SIP caller
    assert await endpoint_of(channel, LOCAL_CALLER, {"endpoint": "x,y"}) == ""
    assert channel.asked == []


def test_the_carrier_gets_the_normalised_digits():
    assert carrier_dial_string(CARRIER, "40712345678") == "PJSIP/40712345678@carrier"
    assert carrier_dial_string(CARRIER, "112") == "PJSIP/112@carrier"


@pytest.mark.parametrize("number", ["", "0712&PJSIP/evil", "07123,45", "+40712345678", "0712 345", "*99#"])
def test_anything_but_digits_never_reaches_a_dial_string(number):
    with pytest.raises(ValueError):
        carrier_dial_string(CARRIER, number)


@pytest.mark.parametrize("endpoint", ["a)b", "x,y", "ep&other", "${SHELL(id)}", ""])
def test_an_endpoint_name_with_syntax_never_reaches_a_dialplan_function(endpoint):
    with pytest.raises(ValueError):
        endpoint_contacts_function(endpoint)


def test_every_registered_contact_becomes_a_destination():
    value = "PJSIP/ep1/sip:ep1@127.0.0.1:5062&PJSIP/ep1/sip:ep1@10.0.0.2:5060;ob"
    assert split_contacts(value) == ["PJSIP/ep1/sip:ep1@127.0.0.1:5062", "PJSIP/ep1/sip:ep1@10.0.0.2:5060;ob"]
    assert split_contacts("") == []


@pytest.mark.parametrize("cause,why", [(17, "busy"), (19, "no_answer"), (18, "no_answer"), (20, "unreachable"),
                                       (1, "unallocated"), (21, "rejected"), (34, "congestion"), (None, "failed"),
                                       (16, "failed")])
def test_a_legs_cause_names_why_it_did_not_connect(cause, why):
    assert causes.why_from_cause(cause) == why


def test_one_busy_phone_makes_the_subscriber_busy_and_no_phone_makes_it_unreachable():
    assert causes.overall_why(["unreachable", "busy", "no_answer"]) == "busy"
    assert causes.overall_why(["unreachable", "no_answer"]) == "no_answer"
    assert causes.overall_why([]) == "unreachable"


def test_the_callers_cause_is_the_carriers_own_when_it_tells_the_same_story():
    assert causes.caller_cause("unallocated", 3) == 3
    assert causes.caller_cause("busy", None) == 17
    assert causes.caller_cause("no_answer", 16) == 19  # normal clearing tells nothing


def test_a_call_record_survives_the_channel_variable_and_garbage_is_no_record():
    record = CallRecord("outbound", "cp1-17.3-1", "cp1-17.3-bridge", 1756717200.25, 42, False)
    assert CallRecord.decode(record.encode()) == record
    for garbage in ("", "{", '{"peer": "x"}', "null", '{"direction":"outbound","peer":"p","bridge":"b",'
                                                      '"talk_started_at":"soon"}'):
        assert CallRecord.decode(garbage) is None


def test_an_event_names_every_channel_it_is_about():
    dial = {"type": "Dial", "peer": {"id": "c-1"}, "caller": {"id": "c"}}
    playback = {"type": "PlaybackFinished", "playback": {"id": "p", "target_uri": "channel:c"}}
    assert channel_ids_of(dial) == ["c-1", "c"] and channel_ids_of(playback) == ["c"]
