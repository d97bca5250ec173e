"""tornado's two HTTP clients, adjusted to how the client talks to an EventStore server.

- curl: libcurl (8.x) removes dot segments from the path, and counts `%2E` as a dot, so
  the streams "." and ".." (sent as /streams/%2E) would be asked for as /streams/. Paths
  are sent exactly as built. And the body is received in larger pieces (feed pages are
  megabytes).
- simple: when the server resets the connection in the middle of a response, tornado's
  `_HTTPConnection.on_connection_close` re-raises the socket error from a close callback
  where nobody catches it ("Uncaught exception" in the log), and the fetch only ends at its
  request_timeout, as a timeout. Here the reset ends the fetch at once, as a clean close
  of the connection does.
"""
from __future__ import annotations

import functools
import sys
from typing import Any

from tornado.httpclient import AsyncHTTPClient
from tornado.simple_httpclient import HTTPStreamClosedError, SimpleAsyncHTTPClient, _HTTPConnection

__all__ = ["SimpleHTTPClient", "curl_http_client"]

# libcurl hands the body over in pieces of this size (16 KiB by default): a feed page of
# megabytes would otherwise cost hundreds of Python callbacks.
RECEIVE_BUFFER_SIZE = 256 * 1024
# Header lines that are not a plain "Name: value": the status line, the blank line that
# ends the head, and (obsolete) continuation lines.
_SPECIAL_LINE_STARTS = frozenset({b"H", b"\r", b"\n", b" ", b"\t", b""})


class _ResetReportingConnection(_HTTPConnection):
    def on_connection_close(self) -> None:
        if self.final_callback is not None and self.stream.error is not None:
            try:
                raise HTTPStreamClosedError(
                    "Connection closed: {}".format(self.stream.error)) from self.stream.error
            except HTTPStreamClosedError:
                self._handle_exception(*sys.exc_info())
            return
        super().on_connection_close()


class SimpleHTTPClient(SimpleAsyncHTTPClient):
    def _connection_class(self) -> type:
        return _ResetReportingConnection


@functools.lru_cache(maxsize=None)
def _curl_client_class() -> type:
    # Defined on first use: pycurl is optional.
    import pycurl
    from tornado.curl_httpclient import CurlAsyncHTTPClient

    class CurlHTTPClient(CurlAsyncHTTPClient):
        def _curl_setup_request(self, curl: Any, *args: Any) -> None:
            super()._curl_setup_request(curl, *args)
            # per request: handles are reset between requests
            curl.setopt(pycurl.PATH_AS_IS, 1)
            curl.setopt(pycurl.BUFFERSIZE, RECEIVE_BUFFER_SIZE)

        def _curl_header_callback(self, headers: Any, header_callback: Any,
                                  header_line_bytes: bytes) -> None:
            # An EventStore answer carries a dozen header lines; the plain "Name: value"
            # ones go straight to HTTPHeaders.add (which still validates name and value),
            # everything else the way tornado does it.
            if header_callback is None and header_line_bytes[:1] not in _SPECIAL_LINE_STARTS:
                name, colon, value = header_line_bytes.decode("latin1").partition(":")
                if colon:
                    headers.add(name, value.strip(" \t\r\n"))
                    return
            super()._curl_header_callback(headers, header_callback, header_line_bytes)
    return CurlHTTPClient


def curl_http_client(**options: Any) -> AsyncHTTPClient:
    """A CurlAsyncHTTPClient that keeps dot segments (needs pycurl)."""
    return _curl_client_class()(**options)
