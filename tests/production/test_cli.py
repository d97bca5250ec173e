"""Every command of the `clientapi` tool, end to end against real nodes: most in this
process through `cli.main` (fast), the entry point, stdin piping and `tail` as processes."""
import io
import json
import os
import subprocess
import sys
import time

import pytest

from clientapi import cli
from clientapi.server import Node

from .processes import REPOSITORY_ROOT, NodeProcess

COUNTER_JS = """fromStream('{stream}').when({{
  $init: function () {{ return {{count: 0}}; }},
  $any: function (state, event) {{ state.count += 1; return state; }}
}});"""


@pytest.fixture(scope="module")
def node():
    with Node(port=0, run_projections="all") as running:
        yield running


class Tool:
    def __init__(self, node, capsys):
        self.connection = ["--port", str(node.port), "-u", "admin", "-p", "changeit"]
        self.capsys = capsys

    def __call__(self, *arguments, status=0, stdin=None, monkeypatch=None):
        out = io.StringIO()
        code = cli.main([*arguments, *self.connection], out=out)
        errors = self.capsys.readouterr().err
        assert code == status, errors
        self.errors = errors
        return out.getvalue()

    def lines(self, *arguments):
        return [json.loads(line) for line in self(*arguments).splitlines()]


@pytest.fixture
def tool(node, capsys):
    return Tool(node, capsys)


def environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPOSITORY_ROOT, env.get("PYTHONPATH")) if p)
    return env


def run_process(*arguments, stdin=b"", timeout=30):
    return subprocess.run([sys.executable, "-m", "clientapi", *arguments], input=stdin,
                          capture_output=True, timeout=timeout, env=environment())


def test_help_explains_itself():
    done = run_process("--help")
    assert done.returncode == 0
    text = done.stdout.decode()
    for word in ("append", "read", "tail", "projections", "users", "admin", "--seeds", "--ca-file",
                 "Examples"):
        assert word in text
    assert "--expected-version" in run_process("append", "--help").stdout.decode()
    assert run_process().returncode == 2  # no command: help and usage status


def test_append_from_arguments_and_read_back(tool, stream):
    assert tool.lines("append", stream, "--type", "Placed", '{"id": 1}', '{"id": 2}') == \
        [{"stream": stream, "eventNumbers": [0, 1]}]
    assert tool.lines("append", stream, "-t", "Note", '"plain text"', "--metadata", '{"by": "me"}') == \
        [{"stream": stream, "eventNumbers": [2]}]
    events = tool.lines("read", stream)
    assert [(e["eventNumber"], e["eventType"], e["data"]) for e in events] == \
        [(0, "Placed", {"id": 1}), (1, "Placed", {"id": 2}), (2, "Note", "plain text")]
    assert events[2]["metadata"] == {"by": "me"}
    backward = tool.lines("read", stream, "--backward", "--count", "2")
    assert [e["eventNumber"] for e in backward] == [2, 1]
    assert [e["eventNumber"] for e in tool.lines("read", stream, "--start", "1", "--count", "1")] == [1]


def test_read_output_appends_back_and_stdin_works_as_a_pipe(node, tool, stream):
    tool("append", stream, "-t", "T", '{"n": 1}', '{"n": 2}')
    exported = tool("read", stream)
    connection = ["--port", str(node.port), "-u", "admin", "-p", "changeit"]
    done = run_process("append", stream + "-copy", *connection, stdin=exported.encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"stream": stream + "-copy", "eventNumbers": [0, 1]}
    copied = tool.lines("read", stream + "-copy")
    assert [e["data"] for e in copied] == [{"n": 1}, {"n": 2}]
    assert [e["eventId"] for e in copied] == [e["eventId"] for e in tool.lines("read", stream)]
    done = run_process("append", stream, "-t", "Line", "--batch-size", "2", *connection,
                       stdin=b'{"a": 1}\n{"a": 2}\n[3]\n')
    assert json.loads(done.stdout)["eventNumbers"] == [2, 3, 4]
    assert [e["data"] for e in tool.lines("read", stream, "--start", "2")] == [{"a": 1}, {"a": 2}, [3]]


def test_read_all_forward_and_backward(tool, stream):
    tool("append", stream, "-t", "T", '{"last": true}')
    newest = tool.lines("read", "$all", "--backward", "--count", "5")
    assert len(newest) == 5 and any(e["stream"] == stream for e in newest)
    oldest = tool.lines("read", "$all", "--count", "3")
    assert len(oldest) == 3 and oldest[0]["eventNumber"] == 0


def test_read_progress_goes_to_stderr_only(tool, stream):
    tool("append", stream, "-t", "T", *['{"i": %d}' % i for i in range(20)])
    output = tool("read", stream, "--progress", "always")
    assert len(output.splitlines()) == 20 and "%" not in output
    assert "20/20" in tool.errors or tool.errors.endswith("\x1b[K")  # drawn, then cleared


def test_failures_are_one_line_and_exit_1(tool, stream):
    tool("read", stream, status=1)
    assert tool.errors.strip() == "clientapi: error: stream '{}' not found".format(stream)
    tool("append", stream, "-t", "T", "{not json", status=1)
    assert "not valid JSON" in tool.errors
    tool("append", stream, '{"no": "type"}', status=1)
    assert "--type" in tool.errors
    tool("append", stream, "-t", "T", '{"a": 1}', "--expected-version", "7", status=1)
    assert "Wrong expected" in tool.errors and "Traceback" not in tool.errors
    out = io.StringIO()
    assert cli.main(["read", stream, "--port", "1", "--timeout", "2"], out=out) == 1


def test_wrong_password_is_refused_without_echoing_it(node, capsys, stream):
    code = cli.main(["read", stream, "--port", str(node.port), "-u", "admin", "-p", "sesame-42"],
                    out=io.StringIO())
    captured = capsys.readouterr()
    assert code == 1 and "401" in captured.err and "sesame-42" not in captured.err + captured.out


def test_tail_prints_new_events_live(node, tool, stream):
    tool("append", stream, "-t", "T", '{"n": 0}')
    connection = ["--port", str(node.port), "-u", "admin", "-p", "changeit"]
    tail = subprocess.Popen([sys.executable, "-m", "clientapi", "tail", stream, "--from-start",
                             "--count", "3", *connection], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=environment())
    try:
        first = json.loads(tail.stdout.readline())
        assert first["data"] == {"n": 0}
        tool("append", stream, "-t", "T", '{"n": 1}', '{"n": 2}')
        out, err = tail.communicate(timeout=20)
    finally:
        tail.kill()
        tail.wait()
    assert tail.returncode == 0, err
    assert [json.loads(line)["data"] for line in out.decode().splitlines()] == [{"n": 1}, {"n": 2}]


def test_tail_of_all(node, tool, stream):
    connection = ["--port", str(node.port), "-u", "admin", "-p", "changeit"]
    tail = subprocess.Popen([sys.executable, "-m", "clientapi", "tail", "$all", "--count", "1",
                             *connection], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environment())
    try:
        deadline = time.monotonic() + 20
        line = b""
        while not line and time.monotonic() < deadline:  # until the tail is live, keep writing
            tool("append", stream, "-t", "T", '{"x": 1}')
            out, err = _communicate(tail, 0.5)
            line = out
    finally:
        tail.kill()
        tail.wait()
    assert json.loads(line.splitlines()[0])["stream"] == stream


def _communicate(process, seconds):
    try:
        return process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        return b"", b""


def test_projections_create_list_and_state(tool, stream, tmp_path):
    name = "count-" + stream[-8:]
    source = tmp_path / "counter.js"
    source.write_text(COUNTER_JS.format(stream=stream))
    tool("append", stream, "-t", "T", '{"a": 1}', '{"a": 2}')
    assert tool.lines("projections", "create", name, str(source)) == [{"name": name, "mode": "continuous"}]
    listed = {p["name"]: p for p in tool.lines("projections", "list")}
    assert listed[name]["mode"] == "Continuous"
    assert "coreProcessingTime" in tool.lines("projections", "list", "--mode", "continuous", "--full")[0]
    deadline = time.monotonic() + 10
    state = None
    while state != [{"count": 2}] and time.monotonic() < deadline:
        time.sleep(0.1)
        state = tool.lines("projections", "state", name)
    assert state == [{"count": 2}]
    tool("projections", "create", name, str(source), status=1)  # exists already
    tool("projections", "state", "no-such-projection", status=1)


def test_users_commands(node, tool, login):
    tool("users", "create", login, "--new-password", "pw-1", "--full-name", "Test User", "--group", "$ops")
    assert tool.lines("users", "get", login) == [
        {"login": login, "fullName": "Test User", "groups": ["$ops"], "disabled": False}]
    assert login in [user["login"] for user in tool.lines("users", "list")]
    tool("users", "update", login, "--full-name", "Renamed", "--group", "a", "--group", "b")
    assert tool.lines("users", "get", login)[0]["groups"] == ["a", "b"]
    tool("users", "disable", login)
    assert tool.lines("users", "get", login)[0]["disabled"] is True
    tool("users", "enable", login)
    tool("users", "reset-password", login, "--new-password", "pw-2")
    own = ["--port", str(node.port), "-u", login, "-p", "pw-2"]
    assert cli.main(["users", "change-password", login, "--current-password", "pw-2",
                     "--new-password", "pw-3", *own], out=io.StringIO()) == 0
    assert cli.main(["users", "get", login, "--port", str(node.port), "-u", login, "-p", "pw-3"],
                    out=io.StringIO()) == 0
    tool("users", "delete", login)
    tool("users", "get", login, status=1)
    assert "not found" in tool.errors


def test_admin_commands(node, tool):
    assert tool.lines("admin", "ping")[0]["text"] == "Ping request successfully handled"
    assert tool.lines("admin", "info")[0]["state"] == "leader"
    assert "proc" in tool.lines("admin", "stats")[0]
    assert "cpu" in tool.lines("admin", "stats", "proc")[0]
    gossip = tool.lines("admin", "gossip")[0]
    assert gossip["members"][0]["address"] == "127.0.0.1:{}".format(node.port)
    assert gossip["members"][0]["state"] == "Leader"


def test_admin_scavenge(tool):
    scavenge = tool.lines("admin", "scavenge")[0]
    assert scavenge["scavengeId"]


def test_admin_shutdown_stops_the_node():
    process = NodeProcess().wait_until_listening()
    try:
        connection = ["--port", str(process.port), "-u", "admin", "-p", "changeit"]
        done = run_process("admin", "shutdown", *connection)
        assert done.returncode == 0, done.stderr
        assert process.process.wait(10) == 0
    finally:
        process.kill()


def test_tls_options(certificate, stream, capsys):
    process = NodeProcess("--tls-cert", certificate.cert_file, "--tls-key", certificate.key_file)
    process.wait_until_listening()
    try:
        assert process.url.startswith("https://")
        connection = ["--port", str(process.port), "-u", "admin", "-p", "changeit"]
        assert cli.main(["append", stream, "-t", "T", '{"tls": 1}', "--ca-file", certificate.cert_file,
                         *connection], out=io.StringIO()) == 0
        assert cli.main(["read", stream, "--tls", *connection], out=io.StringIO()) == 1
        assert "certificate" in capsys.readouterr().err.lower()  # verification is on by default
        out = io.StringIO()
        assert cli.main(["read", stream, "--tls", "--no-verify", *connection], out=out) == 0
        assert json.loads(out.getvalue())["data"] == {"tls": 1}
    finally:
        process.kill()


def test_paging_through_long_reads(node, tool, stream):
    from clientapi import Client
    tool("append", stream, "-t", "T", *['{"i": %d}' % i for i in range(5)])
    with Client(node.host, node.port, "admin", "changeit") as client:
        forward = list(cli._stream_pages(client, stream, True, None, True, size=2))
        backward = list(cli._stream_pages(client, stream, False, None, True, size=2))
        from_middle = list(cli._stream_pages(client, stream, True, 3, True, size=2))
        everything = list(cli._all_pages(client, True, False, size=7))
    assert [[e.event_number for e in page] for page in forward] == [[0, 1], [2, 3], [4]]
    assert [[e.event_number for e in page] for page in backward] == [[4, 3], [2, 1], [0]]
    assert [[e.event_number for e in page] for page in from_middle] == [[3, 4]]
    assert len(everything) > 1 and all(len(page) == 7 for page in everything[:-1])
    ours = [e.data["i"] for page in everything for e in page if e.stream_id == stream]
    assert ours == [0, 1, 2, 3, 4]


def test_tail_stops_with_an_error_it_cannot_retry(node, stream):
    done = run_process("tail", stream, "--port", str(node.port), "-u", "admin", "-p", "wrong-pw",
                       timeout=20)
    assert done.returncode == 1 and b"401" in done.stderr and b"wrong-pw" not in done.stderr


def test_progress_line():
    clock = iter([0.0, 0.0, 2.0, 2.0, 2.0]).__next__
    stream = io.StringIO()
    progress = cli.Progress(True, total=40, stream=stream, clock=clock)
    progress.advance(10)
    assert progress.line() == "[#######.......................]  25% 10/40 5 events/s"
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    cli.Progress(False, stream=quiet).advance(5)
    assert quiet.getvalue() == ""
