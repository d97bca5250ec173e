"""An append whose connection is cut after the server wrote it is retried with the same
event ids, and the server recognises the replay: no duplicate."""
import pytest

from clientapi import Client, WriteEvent, errors
from clientapi.retry import Backoff

from .processes import CuttingProxy

QUICK = Backoff(max_retries=2, first_delay=0.01, max_delay=0.05)


@pytest.fixture
def proxy(node):
    relay = CuttingProxy(node.port)
    yield relay
    relay.close()


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
@pytest.mark.parametrize("expected_version", [-2, -1])
def test_retried_append_is_not_duplicated(proxy, client, stream, engine, expected_version):
    events = [WriteEvent({"n": n}, event_type="counted", is_json=True) for n in range(3)]
    with Client("127.0.0.1", proxy.port, "admin", "changeit", retries=QUICK, http_client=engine) as cut:
        proxy.cut_next = 1
        assert cut.append_to_stream(stream, events, expected_version) == [0, 1, 2]
    assert proxy.cuts == 1 and proxy.connections >= 2
    written = client.read_stream_events_forward(stream, 0, 10)
    assert [event.data["n"] for event in written] == [0, 1, 2]
    assert [event.event_id for event in written] == [event.event_id for event in events]


def test_without_retries_the_cut_is_reported(proxy, client, stream):
    with Client("127.0.0.1", proxy.port, "admin", "changeit", retries=0) as cut:
        proxy.cut_next = 1
        with pytest.raises((errors.ProtocolError, errors.ConnectionFailure)):
            cut.append_to_stream(stream, WriteEvent("x"))
    # ... although the server did write it: exactly why appends carry event ids.
    assert len(client.read_stream_events_forward(stream, 0, 10)) == 1


def test_a_wrong_expected_version_is_never_retried(proxy, client, stream):
    client.append_to_stream(stream, WriteEvent("first"))
    with Client("127.0.0.1", proxy.port, "admin", "changeit", retries=QUICK) as other:
        before = proxy.connections
        with pytest.raises(errors.WrongExpectedVersion):
            other.append_to_stream(stream, WriteEvent("second"), expected_version=5)
    assert proxy.connections - before <= 1  # one request, not three
    assert len(client.read_stream_events_forward(stream, 0, 10)) == 1


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_a_delete_cut_in_flight_is_not_retried(proxy, client, stream, engine):
    client.append_to_stream(stream, WriteEvent("x"))
    with Client("127.0.0.1", proxy.port, "admin", "changeit", retries=QUICK, http_client=engine) as cut:
        proxy.cut_next = 1
        with pytest.raises(errors.ProtocolError):
            cut.delete_stream(stream)
    assert proxy.connections == 1
