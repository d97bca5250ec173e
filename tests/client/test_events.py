"""WriteEvent rules and argument validation of the pure layer (no server needed)."""
import uuid

import pytest

from clientapi import WriteEvent
from clientapi.wire import arguments as check


def test_write_event_defaults():
    event = WriteEvent("hello, Event Store!")
    assert event.event_type == "str" and not event.is_json
    assert isinstance(event.event_id, uuid.UUID) and event.event_id.int != 0
    assert WriteEvent({"a": 1}, is_json=True).event_type == "dict"
    assert WriteEvent([1], is_json=True).event_type == "list"
    assert WriteEvent(None).event_type == "NoneType"
    assert WriteEvent(b"x").event_type == "bytes"
    fixed = uuid.uuid4()
    assert WriteEvent("x", event_id=fixed).event_id == fixed
    assert WriteEvent("x", event_id=str(fixed)).event_id == fixed


@pytest.mark.parametrize("kwargs,error", [
    (dict(data={"a": 1}), TypeError),                    # dict without is_json=True
    (dict(data=[1, 2]), TypeError),
    (dict(data=5), TypeError),
    (dict(data=1.5, is_json=True), TypeError),
    (dict(data="not json", is_json=True), ValueError),
    (dict(data='"a json string"', is_json=True), ValueError),  # only objects/arrays stay JSON
    (dict(data=b"\xff\xfe"), ValueError),                 # payloads travel as text
    (dict(data="x", metadata=b"\xff"), ValueError),
    (dict(data="x", metadata=5), TypeError),
    (dict(data="x", event_id="nope"), ValueError),
    (dict(data="x", event_id=str(uuid.UUID(int=0))), ValueError),
    (dict(data="x", event_id=5), TypeError),
    (dict(data="x", event_type=""), ValueError),
    (dict(data="x", event_type=5), TypeError),
    (dict(data="x", is_json=1), TypeError),
    (dict(data="[" * 5000 + "]" * 5000, is_json=True), ValueError),  # deeper than Python parses
])
def test_write_event_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        WriteEvent(**kwargs)


def test_write_event_accepts_json_text():
    assert WriteEvent('{"a": 1}', is_json=True).is_json
    assert WriteEvent(b"[1, 2]", is_json=True).is_json


@pytest.mark.parametrize("function,args,error", [
    (check.check_stream_id, (5,), TypeError),
    (check.check_stream_id, ("",), ValueError),
    (check.check_stream_id, ("$all",), ValueError),
    (check.check_expected_version, ("1",), TypeError),
    (check.check_expected_version, (True,), TypeError),
    (check.check_expected_version, (-3,), ValueError),
    (check.check_expected_version, (-5,), ValueError),
    (check.check_event_number, (-2,), ValueError),
    (check.check_event_number, (1.0,), TypeError),
    (check.check_start_position, (-2,), ValueError),
    (check.check_count, (0,), ValueError),
    (check.check_count, (None,), TypeError),
    (check.check_count, (2 ** 63,), ValueError),
    (check.check_all_position, (-1, 0), ValueError),
    (check.check_all_position, (0, "0"), TypeError),
    (check.check_events, ([],), ValueError),
    (check.check_events, ("x",), TypeError),
    (check.check_events, ([WriteEvent("x"), "y"],), TypeError),
    (check.check_metadata_document, ([],), TypeError),
    (check.check_create_metadata, (5,), TypeError),
    (check.check_callback, ("on_success", 5), TypeError),
])
def test_argument_checks(function, args, error):
    with pytest.raises(error):
        function(*args)


def test_argument_checks_pass_good_values():
    assert check.check_all_position(-1, -1) is None
    assert check.check_all_position(7, 9) == (9, 7)  # (commit, prepare)
    assert check.check_expected_version(-4) == -4
    assert check.check_events(WriteEvent("x"))[0].data == "x"
