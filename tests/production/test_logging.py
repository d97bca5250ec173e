"""Credentials never appear in logs (at any level, tornado's and curl's included), in error
messages or in reprs."""
import base64
import logging

import pytest

from clientapi import Client, WriteEvent, errors
from clientapi.retry import Backoff

SECRET = "pa55-word-never-shown"
TOKEN = base64.b64encode("admin:{}".format(SECRET).encode()).decode()


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_nothing_logged_or_raised_shows_the_password(node, stream, engine, caplog):
    caplog.set_level(logging.DEBUG)  # everything, every logger
    texts = []
    with Client(node.host, node.port, "admin", SECRET, http_client=engine,
                retries=Backoff(max_retries=1, first_delay=0.01)) as client:
        texts.append(repr(client))
        with pytest.raises(errors.AccessDenied) as denied:
            client.append_to_stream(stream, WriteEvent("x"))
        texts += [str(denied.value), repr(denied.value)]
        with pytest.raises(errors.AccessDenied) as denied_again:
            client.users.list(credentials=("ops", SECRET))
        texts += [str(denied_again.value), repr(denied_again.value), repr(client.users)]
    with Client("127.0.0.1", 1, "admin", SECRET, retries=Backoff(max_retries=1, first_delay=0.01),
                http_client=engine) as unreachable:
        with pytest.raises(errors.ConnectionFailure) as failed:
            unreachable.read_event(stream, 0)
        texts.append(str(failed.value))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "retry 1 of 1" in logged  # the retry was logged ...
    everything = logged + "\n".join(texts)
    assert SECRET not in everything and TOKEN not in everything  # ... without credentials
