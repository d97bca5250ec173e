"""The client's sans-I/O layer: request building, response parsing, error mapping.

Nothing in this package opens a socket or touches an event loop, so every function can be
tested against recorded exchanges. The client's operations are: check arguments
(`arguments`), build a `Request` (`requests`), let the transport send it, then turn the
`Response` into a result or an error (`decoding`, `status`).
"""
from . import arguments, decoding, encoding, media, requests, status
from .http import Credentials, CredentialsLike, Request, Response, as_credentials, authorization_header

__all__ = ["arguments", "decoding", "encoding", "media", "requests", "status", "Credentials",
           "CredentialsLike", "Request", "Response", "as_credentials", "authorization_header"]
