"""Appends over HTTP: body formats, the validation order, expected versions, idempotency."""
from __future__ import annotations

import re
import uuid

import pytest

from node_http import EVENTS_JSON


def test_events_json_append_is_201_with_location_of_first_event(client, stream):
    first = client.append(stream, {"eventType": "a", "data": {"x": 1}})
    assert (first.status, first.reason) == (201, "Created")
    assert first.header("Location") == f"{client.node.url}/streams/{stream}/0"
    assert first.media_type == "text/plain" and first.body == b""
    second = client.append(stream, {"eventType": "b", "data": {}}, {"eventType": "c", "data": {}})
    assert second.header("Location") == f"{client.node.url}/streams/{stream}/1"


def test_data_objects_are_stored_indented_and_strings_verbatim(client, stream):
    client.append(stream, {"eventType": "obj", "data": {"a": "1"}, "metadata": {"m": 1}},
                  {"eventType": "str", "data": "just a string", "metadata": "meta str"},
                  {"eventType": "jsonstr", "data": "{\"k\":2}"},
                  {"eventType": "num", "data": 5})
    entries = client.get(f"/streams/{stream}?embed=body").json()["entries"]
    by_type = {entry["eventType"]: entry for entry in entries}
    assert by_type["obj"]["data"] == '{\n  "a": "1"\n}' and by_type["obj"]["isJson"] is True
    assert by_type["str"]["isJson"] is False and "data" not in by_type["str"]
    assert by_type["str"]["metaData"] == "meta str"
    assert by_type["jsonstr"]["data"] == '{\n  "k": 2\n}' and by_type["jsonstr"]["isJson"]
    assert client.get(f"/streams/{stream}/3", accept="application/json").body == b'""'


def test_same_event_id_again_is_idempotent(client, stream):
    event = {"eventId": str(uuid.uuid4()), "eventType": "a", "data": {}}
    assert client.append(stream, event).header("Location").endswith("/0")
    again = client.append(stream, event)
    assert again.status == 201 and again.header("Location").endswith("/0")
    assert len(client.get(f"/streams/{stream}").json()["entries"]) == 1


def test_plain_json_without_event_id_redirects_to_idempotent_uri(client, stream):
    headers = {"Content-Type": "application/json", "ES-EventType": "Plain"}
    redirect = client.request("POST", f"/streams/{stream}", b'{"single":"event"}', headers)
    assert (redirect.status, redirect.reason) == (307, "Temporary Redirect")
    assert redirect.body == b"Forwarding to idempotent URI"
    location = redirect.header("Location")
    assert re.fullmatch(rf"{re.escape(client.node.url)}/streams/{stream}/incoming/[0-9a-f-]{{36}}",
                        location)
    path = location[len(client.node.url):]
    for _ in range(2):  # repeating the POST to the idempotent URI writes once
        created = client.request("POST", path, b'{"single":"event"}', headers)
        assert created.status == 201 and created.header("Location").endswith(f"/{stream}/0")
    assert client.get(f"/streams/{stream}/0", accept="application/json").json() == {"single": "event"}


def test_plain_json_with_event_id_and_type_is_written_verbatim(client, stream):
    event_id = str(uuid.uuid4())
    response = client.request("POST", f"/streams/{stream}", b'{"a":1}', {
        "Content-Type": "application/json", "ES-EventType": "T", "ES-EventId": event_id})
    assert response.status == 201
    record = client.get(f"/streams/{stream}/0", accept="application/vnd.eventstore.event+json").json()
    assert record == {"eventStreamId": stream, "eventNumber": 0, "eventType": "T",
                      "eventId": event_id, "data": {"a": 1}, "metadata": ""}


def test_kurrent_headers_and_media_types_are_accepted(client, stream):
    response = client.request("POST", f"/streams/{stream}", b'{"a":1}', {
        "Content-Type": "application/json", "Kurrent-EventType": "K",
        "Kurrent-EventId": str(uuid.uuid4()), "Kurrent-ExpectedVersion": "-1"})
    assert response.status == 201
    batch = [{"eventId": str(uuid.uuid4()), "eventType": "k2", "data": {}}]
    response = client.request("POST", f"/streams/{stream}", batch,
                              {"Content-Type": "application/vnd.kurrent.events+json"})
    assert response.header("Location").endswith("/1")
    feed = client.get(f"/streams/{stream}", accept="application/vnd.kurrent.atom+json")
    assert feed.media_type == "application/vnd.kurrent.atom+json"
    assert len(feed.json()["entries"]) == 2


def test_octet_stream_and_xml_bodies_are_stored_raw(client, stream):
    octet = client.request("POST", f"/streams/{stream}", b"raw-bytes\x00\xff", {
        "Content-Type": "application/octet-stream", "ES-EventType": "Bin",
        "ES-EventId": str(uuid.uuid4())})
    assert octet.status == 201
    raw = client.get(f"/streams/{stream}/0", accept="application/octet-stream")
    assert raw.media_type == "application/octet-stream" and raw.body == b"raw-bytes\x00\xff"
    assert raw.header("Content-Type") == "application/octet-stream"
    xml = client.request("POST", f"/streams/{stream}", b"<a>1</a>", {
        "Content-Type": "text/xml", "ES-EventType": "X", "ES-EventId": str(uuid.uuid4())})
    assert xml.status == 201
    assert client.get(f"/streams/{stream}/1", accept="application/json").json() == "<a>1</a>"


@pytest.mark.parametrize("body, text", [
    (b'[{"eventId":', "Write request body invalid."),
    (b"[]", "Write request body invalid."),
    (b'{"eventId": "x"}', "Write request body invalid."),
    (b'[{"eventType":"x","data":{}}]', "Empty eventId provided."),
    (b'[{"eventId":"00000000-0000-0000-0000-000000000000","eventType":"x"}]',
     "Empty eventId provided."),
    (b'[{"eventId":"not-a-guid","eventType":"x"}]', "Write request body invalid."),
    (b'[{"eventId":"e1b2c3d4-0000-0000-0000-000000000003","data":{}}]', "Empty eventType provided."),
])
def test_bad_batches_are_400_with_the_real_text(client, stream, body, text):
    response = client.request("POST", f"/streams/{stream}", body, {"Content-Type": EVENTS_JSON})
    assert (response.status, response.reason) == (400, "Bad Request")
    assert response.media_type == "text/plain" and response.body.decode() == text


def test_single_event_without_type_is_400_before_the_redirect(client, stream):
    response = client.request("POST", f"/streams/{stream}", b"{}", {"Content-Type": "application/json"})
    assert response.status == 400
    assert response.body.decode() == ("Must include an event type with the request either in "
                                      "body or as ES-EventType header.")


def test_bad_event_id_header_is_400_before_the_redirect(client, stream):
    response = client.request("POST", f"/streams/{stream}", b"{}", {
        "Content-Type": "application/json", "ES-EventType": "t", "ES-EventId": "nope"})
    assert response.status == 400 and response.body == b"ES-EventId header in wrong format."


def test_redirect_comes_before_expected_version_validation(client, stream):
    response = client.request("POST", f"/streams/{stream}", b"{}", {
        "Content-Type": "application/json", "ES-EventType": "t", "ES-ExpectedVersion": "x"})
    assert response.status == 307


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/zip"},
                                     {"Content-Type": "Application/JSON"},
                                     {"Content-Type": f"{EVENTS_JSON}; charset=latin-1"}])
def test_missing_or_unknown_content_type_is_415(client, stream, headers):
    response = client.request("POST", f"/streams/{stream}", b"[]", headers)
    assert (response.status, response.reason) == (415, "Invalid or missing Content-Type")


def test_charset_utf8_parameter_is_fine(client, stream):
    batch = [{"eventId": str(uuid.uuid4()), "eventType": "a", "data": {}}]
    response = client.request("POST", f"/streams/{stream}", batch,
                              {"Content-Type": f"{EVENTS_JSON}; charset=utf-8"})
    assert response.status == 201


def test_incoming_refuses_octet_stream_and_bad_guids(client, stream):
    octet = client.request("POST", f"/streams/{stream}/incoming/{uuid.uuid4()}", b"x", {
        "Content-Type": "application/octet-stream", "ES-EventType": "t"})
    assert octet.status == 415
    bad = client.request("POST", f"/streams/{stream}/incoming/nope", b"{}", {
        "Content-Type": "application/json", "ES-EventType": "t"})
    assert bad.status == 400 and bad.body == b"Invalid request. Unable to parse guid"
    untyped = client.request("POST", f"/streams/{stream}/incoming/{uuid.uuid4()}", b"{}", {
        "Content-Type": "application/json"})
    assert untyped.status == 400 and untyped.body == b"Empty eventType provided."


def test_event_over_four_mebibytes_is_413(client, stream):
    big = b'{"d":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    response = client.request("POST", f"/streams/{stream}", big, {
        "Content-Type": "application/json", "ES-EventType": "big", "ES-EventId": str(uuid.uuid4())})
    assert response.status == 413
    assert client.get(f"/streams/{stream}").status == 404


def test_expected_versions(client, stream):
    event = {"eventType": "a", "data": {}}
    assert client.append(stream, event, headers={"ES-ExpectedVersion": "-4"}).status == 400
    assert client.append(stream, event, headers={"ES-ExpectedVersion": "-1"}).status == 201
    conflict = client.append(stream, event, headers={"ES-ExpectedVersion": "-1"})
    assert (conflict.status, conflict.reason) == (400, "Wrong expected EventNumber")
    assert conflict.header("ES-CurrentVersion") == "0"
    assert client.append(stream, event, headers={"ES-ExpectedVersion": "0"}).status == 201
    stale = client.append(stream, event, headers={"ES-ExpectedVersion": "5"})
    assert stale.status == 400 and stale.header("ES-CurrentVersion") == "1"
    assert client.append(stream, event, headers={"ES-ExpectedVersion": "-4"}).status == 201
    assert client.append(stream, event, headers={"ES-ExpectedVersion": "-2"}).status == 201


def test_missing_stream_with_expected_version_minus4_reports_minus1(client, stream):
    response = client.append(stream, {"eventType": "a", "data": {}},
                             headers={"ES-ExpectedVersion": "-4"})
    assert response.status == 400 and response.header("ES-CurrentVersion") == "-1"


@pytest.mark.parametrize("name, value", [("ES-ExpectedVersion", "x"), ("ES-ExpectedVersion", "-5"),
                                         ("ES-RequireMaster", "yes"), ("ES-RequireLeader", "1")])
def test_malformed_headers_are_400(client, stream, name, value):
    response = client.append(stream, {"eventType": "a", "data": {}}, headers={name: value})
    assert response.status == 400 and response.body == f"{name} header in wrong format.".encode()


@pytest.mark.parametrize("name", ["ES-RequireMaster", "ES-RequireLeader"])
def test_require_leader_true_is_fine_on_the_only_node(client, stream, name):
    assert client.append(stream, {"eventType": "a", "data": {}}, headers={name: "True"}).status == 201


def test_anonymous_or_wrong_credentials_are_401(client, stream):
    anonymous = client.append(stream, {"eventType": "a", "data": {}}, auth=None)
    assert anonymous.status == 401 and anonymous.header("WWW-Authenticate")
    wrong = client.append(stream, {"eventType": "a", "data": {}}, auth=("admin", "wrong"))
    assert wrong.status == 401 and wrong.header("WWW-Authenticate")


def test_appending_to_all_or_system_streams_needs_rights(client):
    assert client.append("%24all", {"eventType": "a", "data": {}}).status == 401
    created = client.request("POST", "/users/", {"loginName": "appender", "fullName": "A",
                                                 "groups": [], "password": "pw"},
                             {"Content-Type": "application/json"})
    assert created.status in (201, 409)
    response = client.append("%24mysys", {"eventType": "a", "data": {}}, auth=("appender", "pw"))
    assert response.status == 401


def test_xml_batches_become_events(client, stream):
    body = (b'<?xml version="1.0" encoding="utf-8"?><Events>'
            b'<Event><EventId>' + str(uuid.uuid4()).encode() + b'</EventId><EventType>x1</EventType>'
            b'<Data><a>1</a></Data></Event>'
            b'<Event><eventId>' + str(uuid.uuid4()).encode() + b'</eventId><eventType>x2</eventType>'
            b'<data>plain</data></Event></Events>')
    response = client.request("POST", f"/streams/{stream}", body,
                              {"Content-Type": "application/vnd.eventstore.events+xml"})
    assert response.status == 201
    assert client.get(f"/streams/{stream}/0", accept="application/json").json() == {"a": "1"}
    assert client.get(f"/streams/{stream}/1", accept="application/json").json() == "plain"
    broken = client.request("POST", f"/streams/{stream}", b"<Events><Event>",
                            {"Content-Type": "application/vnd.eventstore.events+xml"})
    assert broken.status == 400 and broken.body == b"Write request body invalid."
