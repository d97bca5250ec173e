"""Create/update/delete/info/list of subscription groups, checked against the recorded shapes."""
from __future__ import annotations

from clientapi.server import Node

from .conftest import ADMIN, OPS, Api

RECORDED_SETTINGS = {  # the body of the recorded create (exchange 47)
    "resolveLinktos": True, "startFrom": 0, "extraStatistics": False,
    "checkPointAfterMilliseconds": 2000, "liveBufferSize": 500, "readBatchSize": 20,
    "bufferSize": 500, "maxCheckPointCount": 1000, "maxRetryCount": 10, "maxSubscriberCount": 10,
    "messageTimeoutMilliseconds": 10000, "minCheckPointCount": 10, "namedConsumerStrategy": "RoundRobin"}

OPERATION_KEYS = ["correlationId", "reason", "result", "msgTypeId"]
SUMMARY_KEYS = ["links", "eventStreamId", "groupName", "parkedMessageUri", "getMessagesUri", "status",
                "averageItemsPerSecond", "totalItemsProcessed", "lastProcessedEventNumber",
                "lastKnownEventNumber", "lastKnownEventPosition", "connectionCount",
                "totalInFlightMessages"]
DETAIL_KEYS = ["links", "config", "eventStreamId", "groupName", "status", "averageItemsPerSecond",
               "parkedMessageUri", "getMessagesUri", "totalItemsProcessed", "countSinceLastMeasurement",
               "lastProcessedEventNumber", "lastKnownEventNumber", "lastKnownEventPosition",
               "readBufferCount", "liveBufferCount", "retryBufferCount", "totalInFlightMessages",
               "outstandingMessagesCount", "connections", "parkedMessageCount"]
CONFIG_KEYS = ["resolveLinktos", "startFrom", "startPosition", "messageTimeoutMilliseconds",
               "extraStatistics", "maxRetryCount", "liveBufferSize", "bufferSize", "readBatchSize",
               "preferRoundRobin", "checkPointAfterMilliseconds", "minCheckPointCount",
               "maxCheckPointCount", "maxSubscriberCount", "namedConsumerStrategy"]


def test_create_answers_201_with_location_and_the_completion_body(api, node):
    reply = api.request("PUT", "/subscriptions/foo/group1", RECORDED_SETTINGS)
    assert reply.status == 201
    assert reply.headers["location"] == f"{node.url}/subscriptions/foo/group1"
    body = reply.json()
    assert list(body) == OPERATION_KEYS
    assert body["result"] == "Success" and body["reason"] == "" and body["msgTypeId"] == 142


def test_create_twice_is_409_already_exists(api):
    api.create("foo", "group1")
    reply = api.request("PUT", "/subscriptions/foo/group1", RECORDED_SETTINGS)
    assert reply.status == 409
    body = reply.json()
    assert body["result"] == "AlreadyExists"
    assert body["reason"] == "Group 'group1' already exists."


def test_create_needs_ops_or_admin(api, make_api, node):
    anonymous = api.request("PUT", "/subscriptions/foo/g", {}, auth=None)
    assert anonymous.status == 401
    created = api.request("POST", "/users/", {"loginName": "plain", "fullName": "P", "password": "pw",
                                              "groups": []})
    assert created.status == 201
    assert api.request("PUT", "/subscriptions/foo/g", {}, auth=("plain", "pw")).status == 401
    assert api.request("PUT", "/subscriptions/foo/g", {}, auth=OPS).status == 201


def test_empty_body_means_the_http_defaults(api):
    reply = api.request("PUT", "/subscriptions/foo/group2", b"", {"Content-Type": "application/json"})
    assert reply.status == 201
    config = api.info("foo", "group2")["config"]
    assert list(config) == CONFIG_KEYS
    assert config == {
        "resolveLinktos": False, "startFrom": 0, "startPosition": "0",
        "messageTimeoutMilliseconds": 10000, "extraStatistics": False, "maxRetryCount": 10,
        "liveBufferSize": 500, "bufferSize": 500, "readBatchSize": 20, "preferRoundRobin": True,
        "checkPointAfterMilliseconds": 1000, "minCheckPointCount": 10, "maxCheckPointCount": 500,
        "maxSubscriberCount": 10, "namedConsumerStrategy": "RoundRobin"}


def test_settings_keys_are_matched_case_insensitively(api):
    api.create("foo", "g", MAXRETRYCOUNT=3, namedconsumerstrategy="Pinned", ResolveLinkTos=True)
    config = api.info("foo", "g")["config"]
    assert (config["maxRetryCount"], config["namedConsumerStrategy"], config["resolveLinktos"]) == (
        3, "Pinned", True)
    assert config["preferRoundRobin"] is False


def test_prefer_round_robin_only_counts_with_an_empty_strategy_name(api):
    api.create("foo", "old-client", preferRoundRobin=False)  # the strategy defaults first
    assert api.info("foo", "old-client")["config"]["namedConsumerStrategy"] == "RoundRobin"
    api.create("foo", "older", namedConsumerStrategy="", preferRoundRobin=False)
    assert api.info("foo", "older")["config"]["namedConsumerStrategy"] == "DispatchToSingle"
    api.create("foo", "oldest", namedConsumerStrategy="", preferRoundRobin=True)
    assert api.info("foo", "oldest")["config"]["namedConsumerStrategy"] == "RoundRobin"


def test_zero_and_false_values_mean_the_default(api):
    # The real server's deserializer skips members equal to their type's default.
    api.create("foo", "g", maxRetryCount=0, messageTimeoutMilliseconds=0, maxSubscriberCount=0,
               bufferSize=0, startFrom=0)
    config = api.info("foo", "g")["config"]
    assert (config["maxRetryCount"], config["messageTimeoutMilliseconds"], config["maxSubscriberCount"],
            config["bufferSize"], config["startFrom"]) == (10, 10000, 10, 500, 0)


def test_an_unreadable_body_means_all_defaults(api):
    reply = api.request("PUT", "/subscriptions/foo/g1", {"maxRetryCount": "many", "bufferSize": 50})
    assert reply.status == 201
    config = api.info("foo", "g1")["config"]
    assert (config["maxRetryCount"], config["bufferSize"]) == (10, 500)
    reply = api.request("PUT", "/subscriptions/foo/g2", b"{not json", {"Content-Type": "application/json"})
    assert reply.status == 201
    assert api.info("foo", "g2")["config"]["readBatchSize"] == 20
    api.create("foo", "g3", maxRetryCount="4", resolveLinktos="true")  # Json.NET converts these
    config = api.info("foo", "g3")["config"]
    assert (config["maxRetryCount"], config["resolveLinktos"]) == (4, True)


def test_invalid_settings_are_400_with_the_real_texts(api):
    reply = api.request("PUT", "/subscriptions/foo/g", {"bufferSize": 10, "readBatchSize": 20})
    assert (reply.status, reply.body) == (400, b"BufferSize (10) must be larger than ReadBatchSize (20)")
    reply = api.request("PUT", "/subscriptions/foo/g", {"liveBufferSize": -1})
    assert (reply.status, reply.body) == (400, b"Live Buffer Size (-1) must be positive")
    assert api.request("PUT", "/subscriptions/foo/g", b"{}", {}).status == 415


def test_an_unknown_strategy_fails_with_the_completion_body(api, node):
    reply = api.request("PUT", "/subscriptions/foo/g", {"namedConsumerStrategy": "Nope"})
    assert reply.status == 400
    body = reply.json()
    assert (body["result"], body["reason"]) == ("Fail", "Consumer strategy Nope does not exist.")
    assert reply.headers["location"] == f"{node.url}/subscriptions/foo/g"


def test_update_replaces_all_settings(api, node):
    api.create("foo", "group2", maxRetryCount=7, messageTimeoutMilliseconds=5000)
    reply = api.request("POST", "/subscriptions/foo/group2", {"startFrom": 2, "maxRetryCount": 3})
    assert reply.status == 200
    assert reply.headers["location"] == f"{node.url}/subscriptions/foo/group2"
    assert reply.json()["msgTypeId"] == 144
    config = api.info("foo", "group2")["config"]
    assert (config["startFrom"], config["maxRetryCount"], config["messageTimeoutMilliseconds"]) == (
        2, 3, 10000)


def test_update_or_delete_of_a_missing_group_is_404_does_not_exist(api):
    reply = api.request("POST", "/subscriptions/foo/nope", {})
    assert reply.status == 404 and reply.json()["result"] == "DoesNotExist"
    reply = api.request("DELETE", "/subscriptions/foo/nope")
    assert reply.status == 404
    assert reply.json()["reason"] == "Group 'nope' does not exist."


def test_delete(api):
    api.create("foo", "group2")
    reply = api.request("DELETE", "/subscriptions/foo/group2")
    assert reply.status == 200
    assert reply.json()["result"] == "Success" and reply.json()["msgTypeId"] == 148
    missing = api.request("GET", "/subscriptions/foo/group2/info", headers={"Accept": "application/json"})
    assert (missing.status, missing.body) == (404, b"")
    assert missing.headers["Content-Type"].startswith("application/json")


def test_info_shape(api, node):
    api.append("foo", 6)
    api.create("foo", "group1", **RECORDED_SETTINGS)
    info = api.info("foo", "group1")
    assert list(info) == DETAIL_KEYS
    assert info["links"] == [
        {"href": f"{node.url}/subscriptions/foo/group1/info", "rel": "detail"},
        {"href": f"{node.url}/subscriptions/foo/group1/replayParked", "rel": "replayParked"}]
    assert info["parkedMessageUri"] == f"{node.url}/streams/%24persistentsubscription-foo::group1-parked"
    assert info["getMessagesUri"] == f"{node.url}/subscriptions/foo/group1/1"
    assert info["lastKnownEventNumber"] == 5 and info["lastKnownEventPosition"] == "5"
    assert info["lastProcessedEventNumber"] == -1
    assert info["status"] in ("Live", "Behind")
    assert info["connections"] == [] and info["parkedMessageCount"] == 0


def test_list_all_and_per_stream(api, node):
    api.create("foo", "group1")
    api.create("foo", "group2")
    api.create("bar", "group1")
    every = api.request("GET", "/subscriptions", headers={"Accept": "application/json"})
    assert every.status == 200
    summaries = every.json()
    assert {(s["eventStreamId"], s["groupName"]) for s in summaries} == {
        ("foo", "group1"), ("foo", "group2"), ("bar", "group1")}
    assert all(list(s) == SUMMARY_KEYS for s in summaries)
    foo = api.request("GET", "/subscriptions/foo", headers={"Accept": "application/json"}).json()
    assert [s["groupName"] for s in foo] == ["group1", "group2"]
    assert foo[0]["links"] == [{"href": f"{node.url}/subscriptions/foo/group1/info", "rel": "detail"}]
    assert api.request("GET", "/subscriptions/none", headers={"Accept": "application/json"}).status == 404


def test_paged_list(api, node):
    for index in range(3):
        api.create("paged", f"g{index}")
    page = api.request("GET", "/subscriptions?offset=1&count=1", headers={"Accept": "application/json"}).json()
    assert (page["offset"], page["count"], page["total"]) == (1, 1, 3)
    assert [link["rel"] for link in page["links"]] == ["self", "first", "previous", "next"]
    assert len(page["subscriptions"]) == 1
    assert api.request("GET", "/subscriptions?count=0").status == 400


def test_names_are_escaped_in_links(api, node):
    api.create("with space", "g:1")
    info = api.info("with space", "g:1")
    assert info["eventStreamId"] == "with space" and info["groupName"] == "g:1"
    assert info["getMessagesUri"] == f"{node.url}/subscriptions/with%20space/g%3A1/1"


def test_admin_routes_answer_xml_when_asked(api):
    api.create("foo", "g")
    reply = api.request("GET", "/subscriptions/foo/g/info", headers={"Accept": "text/xml"})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert b"<groupName>g</groupName>" in reply.body


def test_restart_keeps_groups(api):
    api.create("foo", "g")
    reply = api.request("POST", "/subscriptions/restart", headers={"Accept": "application/json"})
    assert reply.status == 200 and reply.json() == "Restarting"
    assert api.info("foo", "g")["groupName"] == "g"
    assert api.request("POST", "/subscriptions/restart", auth=None).status == 401


def test_unauthenticated_info_is_401(api):
    api.create("foo", "g")
    assert api.request("GET", "/subscriptions/foo/g/info", auth=None).status == 401
    assert api.request("GET", "/subscriptions", auth=ADMIN).status == 200


def test_allowed_methods_per_path(api):
    api.create("foo", "g")

    def allowed(path: str) -> str:
        return api.request("OPTIONS", path).headers["Access-Control-Allow-Methods"]

    assert allowed("/subscriptions/foo/g") == "PUT, POST, DELETE, GET, OPTIONS"
    assert allowed("/subscriptions/foo/g/ack") == "GET, POST, OPTIONS"
    assert allowed("/subscriptions/foo/g/ack/0f9fad5b-d9cb-469f-a165-70867728950e") == "POST, OPTIONS"
    assert allowed("/subscriptions/foo/g/2") == "GET, OPTIONS"
    assert allowed("/subscriptions") == "GET, OPTIONS"
    assert allowed("/subscriptions/foo") == "GET, OPTIONS"
    assert api.request("PATCH", "/subscriptions/foo/g/2").status == 405
    read_of_ack = api.request("GET", "/subscriptions/foo/g/ack",
                              headers={"Accept": "application/vnd.eventstore.competingatom+json"})
    assert read_of_ack.status == 400


def test_an_insecure_node_lets_anyone_manage_and_read():
    with Node(port=0, insecure=True) as node:
        anonymous = Api(node, auth=None)
        try:
            assert anonymous.request("PUT", "/subscriptions/foo/g", {}).status == 201
            assert anonymous.read("foo", "g")["entries"] == []
            assert anonymous.info("foo", "g")["groupName"] == "g"
        finally:
            anonymous.close()
