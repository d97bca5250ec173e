"""Atom XML (application/atom+xml and friends) and the XML forms of single events."""
from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..core.model import EventRecord, ResolvedEvent
from .entries import AUTHOR, LINK_SUMMARY, Embed, _payload_value, event_url
from .feeds import Feed
from .text import ascii_int, decode_text, iso_timestamp

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
ATOM_NS = "http://www.w3.org/2005/Atom"
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.\-]")


def _element_name(key: str) -> str:
    name = _NOT_NAME_CHAR.sub("_", key) or "_"
    return name if (name[0].isalpha() or name[0] == "_") else "_" + name


def json_to_xml(name: str, value: Any) -> str:
    """A JSON value as XML: objects become child elements, arrays repeat the element."""
    tag = _element_name(name)
    if isinstance(value, list):
        return "".join(json_to_xml(name, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(json_to_xml(key, item) for key, item in value.items())
    elif value is None:
        inner = ""
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def _payload_xml(name: str, raw: bytes, is_json: bool) -> str:
    value = _payload_value(raw, is_json)
    try:
        return _value_xml(name, value)
    except RecursionError:  # nested too deep to convert: shown as the text it was stored as
        return f"<{name}>{escape(decode_text(raw))}</{name}>"


def _value_xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{name}>{''.join(json_to_xml(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, list):
        return f"<{name}>{''.join(json_to_xml('item', v) for v in value)}</{name}>"
    return f"<{name}>{escape(value)}</{name}>"


def _record_xml(event: EventRecord) -> str:
    return (f"<eventStreamId>{escape(event.stream_id)}</eventStreamId>"
            f"<eventNumber>{event.event_number}</eventNumber>"
            f"<eventType>{escape(event.event_type)}</eventType>"
            f"<eventId>{event.event_id}</eventId>"
            + _payload_xml("data", event.data, event.is_json)
            + _payload_xml("metadata", event.metadata, event.is_json))


def event_xml(event: EventRecord) -> str:
    """application/vnd.eventstore.event+xml."""
    return f"{XML_DECLARATION}<event>{_record_xml(event)}</event>"


def data_xml(event: EventRecord) -> str:
    """text/xml and application/xml for a single event: its data as XML."""
    return XML_DECLARATION + _payload_xml("data", event.data, event.is_json)


def _entry_xml(resolved: ResolvedEvent, base: str, embed: Embed, single: bool, ns: str) -> str:
    target, record = resolved.event, resolved.original
    if target is None:
        number_text, _, stream_id = decode_text(record.data).partition("@")
        number = ascii_int(number_text)
        if number is None:
            number = record.event_number
        summary = LINK_SUMMARY
    else:
        stream_id, number = target.stream_id, target.event_number
        summary = LINK_SUMMARY if record.is_link else target.event_type
    url = quoteattr(event_url(base, stream_id, number))
    parts = [f"<{ns}title>{escape(f'{number}@{stream_id}')}</{ns}title>",
             f"<{ns}id>{escape(event_url(base, stream_id, number))}</{ns}id>",
             f"<{ns}updated>{iso_timestamp(record.created)}</{ns}updated>",
             f"<{ns}author><{ns}name>{AUTHOR}</{ns}name></{ns}author>",
             f"<{ns}summary>{escape(summary)}</{ns}summary>",
             f"<{ns}link href={url} rel=\"edit\" />",
             f"<{ns}link href={url} rel=\"alternate\" />"]
    if (target is not None and (single or embed == Embed.CONTENT) and target.is_json
            and not record.is_link):
        parts.append(f'<{ns}content type="application/xml">{_record_xml(target)}</{ns}content>')
    return "".join(parts)


def entry_xml(resolved: ResolvedEvent, base: str, embed: Embed) -> str:
    """A single event as application/atom+xml."""
    body = _entry_xml(resolved, base, embed, True, "atom:")
    return f'{XML_DECLARATION}<atom:entry xmlns:atom="{ATOM_NS}">{body}</atom:entry>'


def feed_xml(feed: Feed, base: str, embed: Embed) -> str:
    """A feed as application/atom+xml (the JSON-only fields do not exist in XML)."""
    head = feed.head
    parts = [f'{XML_DECLARATION}<feed xmlns="{ATOM_NS}">',
             f"<title>{escape(head['title'])}</title><id>{escape(head['id'])}</id>",
             f"<updated>{head['updated']}</updated><author><name>{AUTHOR}</name></author>"]
    parts += [f"<link href={quoteattr(link.uri)} rel=\"{link.relation}\" />" for link in feed.links]
    parts += [f"<entry>{_entry_xml(e, base, embed, False, '')}</entry>" for e in feed.entries]
    parts.append("</feed>")
    return "".join(parts)
