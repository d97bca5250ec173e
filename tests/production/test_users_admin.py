"""`client.users` and `client.admin` against the node, blocking and `_async`."""
import asyncio
import time

import pytest

from clientapi import Client, errors
from clientapi.users import UserAlreadyExists, UserDetails, UserNotFound


def test_user_life_cycle(client, login):
    client.users.create(login, "first-pw", full_name="Ann Example", groups=["$ops"])
    assert client.users.get(login) == UserDetails(login, "Ann Example", ("$ops",), False)
    assert login in [user.login for user in client.users.list()]
    with pytest.raises(UserAlreadyExists) as exists:
        client.users.create(login, "other")
    assert exists.value.status == 409 and login in str(exists.value)

    client.users.update(login, "Ann B.", ["$admins", "team"])
    assert client.users.get(login) == UserDetails(login, "Ann B.", ("$admins", "team"), False)

    client.users.disable(login)
    assert client.users.get(login).disabled
    with pytest.raises(errors.AccessDenied):
        client.users.current(credentials=(login, "first-pw"))
    client.users.enable(login)
    assert client.users.current(credentials=(login, "first-pw")).login == login

    client.users.reset_password(login, "second-pw")
    with pytest.raises(errors.AccessDenied):
        client.users.current(credentials=(login, "first-pw"))
    client.users.change_password(login, "second-pw", "third-pw", credentials=(login, "second-pw"))
    assert client.users.get(login, credentials=(login, "third-pw")).full_name == "Ann B."
    with pytest.raises(errors.AccessDenied):  # wrong current password
        client.users.change_password(login, "nope", "x", credentials=(login, "third-pw"))

    client.users.delete(login)
    with pytest.raises(UserNotFound) as missing:
        client.users.get(login)
    assert missing.value.status == 404
    for call in (client.users.delete, client.users.enable, client.users.disable):
        with pytest.raises(UserNotFound):
            call(login)


def test_user_management_needs_an_admin(node, client, login):
    client.users.create(login, "pw")
    with Client(node.host, node.port, login, "pw") as plain_user:
        with pytest.raises(errors.AccessDenied):
            plain_user.users.list()
        with pytest.raises(errors.AccessDenied):
            plain_user.users.create(login + "x", "pw")
        assert plain_user.users.get(login).login == login  # oneself is fine


def test_arguments_are_checked_before_sending(client):
    with pytest.raises(TypeError):
        client.users.create("ann", 1234)
    with pytest.raises(ValueError):
        client.users.get("")
    with pytest.raises(TypeError):
        client.users.update("ann", "Ann", groups="$admins")  # a str is not a list of groups


def test_async_twins(client, login):
    async def scenario():
        await client.users.create_async(login, "pw", groups=["g"])
        user = await client.users.get_async(login)
        everyone = await client.users.list_async()
        ping = await client.admin.ping_async()
        return user, everyone, ping

    loop = asyncio.new_event_loop()
    try:
        user, everyone, ping = loop.run_until_complete(scenario())
        loop.run_until_complete(_close(client))
    finally:
        loop.close()
    assert user.groups == ("g",) and login in [u.login for u in everyone]
    assert "Ping request successfully handled" in ping["text"]


async def _close(client):
    client.close()


def test_async_with_callbacks_and_wait(client):
    results = []

    def done(result):
        results.append(result)
        client.resume()

    client.users.list_async(on_success=done, on_failed=done)
    client.wait(timeout=10)
    assert isinstance(results[0], list) and {"admin", "ops"} <= {user.login for user in results[0]}


def test_ping_info_stats_gossip(node, client):
    assert client.admin.ping()["text"] == "Ping request successfully handled"
    info = client.admin.info()
    assert info["state"] == "leader" and info["esVersion"]
    assert "proc" in client.admin.stats()
    assert isinstance(client.admin.stats("proc"), dict)
    view = client.admin.gossip()
    assert view.leader().address == (node.host, node.port)


def test_ping_of_a_node_that_is_not_there():
    with Client("127.0.0.1", 1, connect_timeout=2) as nobody:
        with pytest.raises(errors.ConnectionFailure):
            nobody.admin.ping()


def test_sections_show_no_credentials(client):
    text = repr(client.users) + repr(client.admin) + repr(client)
    assert "changeit" not in text and "admin" in text


def test_scavenge_and_stopping_it(client):
    from clientapi.admin import ScavengeNotFound
    scavenge_id = client.admin.scavenge()
    assert len(scavenge_id) == 36
    client.admin.stop_scavenge(scavenge_id)
    with pytest.raises(ScavengeNotFound):
        client.admin.stop_scavenge("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValueError):
        client.admin.scavenge(threads=0)


def test_scavenge_and_shutdown_need_ops_or_admins(node):
    with Client(node.host, node.port) as anonymous:
        with pytest.raises(errors.AccessDenied):
            anonymous.admin.scavenge()
        with pytest.raises(errors.AccessDenied):
            anonymous.admin.shutdown()
    with Client(node.host, node.port, "ops", "changeit") as ops:
        assert ops.admin.scavenge()


def test_shutdown_stops_the_node():
    from clientapi.server import Node
    node = Node(port=0).start()
    try:
        with Client(node.host, node.port, "admin", "changeit", connect_timeout=2) as client:
            client.admin.shutdown()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    client.admin.ping()
                except errors.ConnectionFailure:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the node still answers after the shutdown request")
    finally:
        node.stop()
