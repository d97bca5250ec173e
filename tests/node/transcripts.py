"""Reading the exchanges recorded from a real EventStore 3.9.4 node (kept beside the repository,
in `../shared/real-server/transcripts-3.9.4`); tests skip when the folder is not there."""
from __future__ import annotations

import datetime as dt
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "real-server" / "transcripts-3.9.4"


@dataclass
class Exchange:
    name: str
    method: str
    path: str
    request_headers: dict
    request_body: Optional[bytes]
    auth: Optional[tuple[str, str]]
    status: int
    reason: str
    headers: dict = field(default_factory=dict)
    body: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> Optional[str]:
        value = self.headers.get("content-type", "")
        return value.split(";")[0].strip() or None


def folder_or_skip() -> Path:
    if not FOLDER.is_dir():
        pytest.skip("the recorded exchanges are not available here")
    return FOLDER


def _parse_curl(line: str) -> tuple[str, str, dict, Optional[bytes], Optional[tuple[str, str]]]:
    tokens = shlex.split(line)
    method, url, headers, body, auth = "GET", "", {}, None, None
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token == "-X":
            method, index = tokens[index + 1], index + 1
        elif token == "-H":
            name, _, value = tokens[index + 1].partition(":")
            if value.strip():
                headers[name.strip()] = value.strip()
            index += 1
        elif token == "--data-binary":
            body, index = tokens[index + 1].encode(), index + 1
        elif token == "-u":
            login, _, password = tokens[index + 1].partition(":")
            auth, index = (login, password), index + 1
        elif token.startswith("http"):
            url = token
        index += 1
    if body is not None and method == "GET":
        method = "POST"
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    return method, path, headers, body, auth


def load(name: str) -> Exchange:
    text = (folder_or_skip() / name).read_text()
    curl = next(line for line in text.splitlines() if line.startswith("### curl "))[4:]
    method, path, headers, body, auth = _parse_curl(curl)
    response = text.split("### RESPONSE (raw)\n", 1)[1]
    head, _, payload = response.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    _, status, reason = (status_line.split(" ", 2) + [""])[:3]
    parsed = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()] = value.strip()
    return Exchange(name, method, path, headers, body, auth, int(status), reason, parsed,
                    payload.rstrip("\n"))


def all_names() -> list[str]:
    if not FOLDER.is_dir():
        return []
    return sorted(path.name for path in FOLDER.glob("*.txt") if path.name != "INDEX.txt")


def timestamp(text: str) -> dt.datetime:
    """An `updated` value back into a datetime (microsecond precision)."""
    base, _, fraction = text.rstrip("Z").partition(".")
    micro = int((fraction + "000000")[:6]) if fraction else 0
    return dt.datetime.fromisoformat(base).replace(microsecond=micro, tzinfo=dt.timezone.utc)
