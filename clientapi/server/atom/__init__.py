"""Pure rendering of the node's documents: Atom feeds, entries and single events.

Functions from core model objects plus the absolute base URL to JSON text / XML, with
no HTTP in sight, so they can be tested on their own against recorded documents.
"""
from .description import description_document
from .entries import (Embed, entry_document, entry_text, event_data_document, event_record,
                      event_record_json, parse_embed, single_event_json)
from .feeds import (AllPage, Feed, Link, StreamPage, all_feed, feed_json, format_position,
                    parse_position, stream_feed)
from .text import escape_stream, iso_timestamp, json_text
from .xml import data_xml, entry_xml, event_xml, feed_xml

__all__ = ["AllPage", "Embed", "Feed", "Link", "StreamPage", "all_feed", "data_xml",
           "description_document", "entry_document", "entry_text", "entry_xml",
           "escape_stream", "event_data_document", "event_record", "event_record_json",
           "event_xml", "feed_json", "feed_xml", "format_position", "iso_timestamp",
           "json_text", "parse_embed", "parse_position", "single_event_json", "stream_feed"]
