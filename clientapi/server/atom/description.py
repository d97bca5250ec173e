"""The stream description document (application/vnd.eventstore.streamdesc+json), digest §5.9."""
from __future__ import annotations

from typing import Iterable

from .text import escape_stream

STREAMDESC_JSON = "application/vnd.eventstore.streamdesc+json"
ATOM_XML = "application/atom+xml"
ATOM_JSON = "application/vnd.eventstore.atom+json"
COMPETING_ATOM_XML = "application/vnd.eventstore.competingatom+xml"
COMPETING_ATOM_JSON = "application/vnd.eventstore.competingatom+json"
DESCRIPTION = ("The description document will be presented when no accept header is present "
               "or it was requested")


def description_document(stream_id: str, subscription_groups: Iterable[str] = ()) -> dict:
    """Relative links, as the real server gives them; groups only when the stream has some."""
    stream_path = f"/streams/{escape_stream(stream_id)}"
    links: dict = {
        "self": {"href": stream_path, "supportedContentTypes": [STREAMDESC_JSON]},
        "stream": {"href": stream_path, "supportedContentTypes": [ATOM_XML, ATOM_JSON]},
    }
    groups = [{"href": f"/subscriptions/{escape_stream(stream_id)}/{escape_stream(group)}",
               "supportedContentTypes": [COMPETING_ATOM_XML, COMPETING_ATOM_JSON]}
              for group in subscription_groups]
    if groups:
        links["streamSubscription"] = groups
    return {"title": f"Description document for '{stream_id}'", "description": DESCRIPTION,
            "_links": links}
