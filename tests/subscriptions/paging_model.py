"""A model of the server's forward paging, for driving the catch-up state machine.

It follows the link rules of the recorded exchanges (a stream of 45 events read in
pages of 20: `0/forward/20` -> `20/forward/20` -> `40/forward/20` -> `45/forward/20`,
the last one empty with no `previous` link; `$all` forward pages link `previous` only
when non-empty, and 3.9.4 puts prepare position 0 in those links). Pages come out as
the runner hands them to the state machine: oldest first, the `previous` link as the
start it names. No HTTP here; the wire is tested end to end against the node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from clientapi.wire.catchup import AllPosition, FetchedPage, Read


@dataclass(frozen=True)
class Ev:
    """An event as a subscriber sees it: `number` is its number in the stream read."""

    stream: str
    number: int
    target_number: Optional[int] = None  # for a resolved link: the target's own number


class StreamModel:
    """One stream; `floor` models truncation ($tb): events below it are not readable."""

    def __init__(self, name: str = "long", count: int = 0, page_size: int = 20):
        self.name = name
        self.events: list[Ev] = []
        self.floor = 0
        self.page_size = page_size
        self.append(count)

    def append(self, n: int = 1) -> None:
        for _ in range(n):
            self.events.append(Ev(self.name, len(self.events)))

    @property
    def last(self) -> int:
        return len(self.events) - 1

    def read(self, read: Read) -> FetchedPage:
        start = read.start
        count = self.page_size
        stop = min(start + count - 1, self.last)
        events = [e for e in self.events[start:stop + 1] if e.number >= self.floor]
        end_of_stream = start + count - 1 >= self.last
        newer = stop + 1 if not end_of_stream or events else None
        return FetchedPage(events, newer, head_of_stream=end_of_stream)


class AllModel:
    """The `$all` log: each record at a strictly growing position.

    `real_server_links=True` makes `previous` links look like 3.9.4's (prepare part 0).
    """

    def __init__(self, page_size: int = 20, real_server_links: bool = False):
        self.records: list[tuple[AllPosition, Ev]] = []
        self.page_size = page_size
        self.real_server_links = real_server_links
        self._next = 0x4B2

    def append(self, stream: str, n: int = 1) -> None:
        for _ in range(n):
            number = sum(1 for _, e in self.records if e.stream == stream)
            self.records.append((AllPosition(self._next, self._next), Ev(stream, number)))
            self._next += 0x5F

    @property
    def head(self) -> AllPosition:
        return AllPosition(self._next, self._next)

    def read(self, read: Read) -> FetchedPage:
        position = read.start
        # the real server's links may carry prepare 0: order by commit, then prepare
        page = [(p, e) for p, e in self.records if p >= position][:self.page_size]
        newer = None
        if page:
            after = page[-1][0].commit_position + 1
            newer = AllPosition(after, 0 if self.real_server_links else after)
        return FetchedPage([e for _, e in page], newer)
