"""TLS for the node: a self-signed certificate for tests, and the server's SSL context.

    pair = make_self_signed_certificate(directory)     # cert.pem + key.pem in `directory`
    Node(port=0, tls_cert=pair.cert_file, tls_key=pair.key_file)
    Client(host, port, https=True, ca_file=pair.cert_file)

The certificate is made with the `openssl` command (no Python dependency): an EC P-256 key,
valid for two days, for 127.0.0.1, ::1 and localhost (plus any names given). Being
self-signed it is its own CA, so clients verify the node by passing it as their CA file.
It is meant for tests and local trials only.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from typing import Iterable, Optional

__all__ = ["CertificatePair", "make_self_signed_certificate", "server_ssl_context", "openssl_available"]

DEFAULT_NAMES = ("127.0.0.1", "::1", "localhost")
VALID_DAYS = 2
OPENSSL_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class CertificatePair:
    cert_file: str
    key_file: str


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _subject_alt_names(names: Iterable[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append("IP:" + name)
        except ValueError:
            entries.append("DNS:" + name)
    return ",".join(entries)


def make_self_signed_certificate(directory: str, names: Iterable[str] = DEFAULT_NAMES,
                                 common_name: str = "clientapi test node",
                                 openssl: Optional[str] = None) -> CertificatePair:
    """Write `cert.pem` and `key.pem` (unencrypted, readable by the owner only) into
    `directory` and return their paths. Raises RuntimeError when openssl is missing or fails."""
    command = openssl or shutil.which("openssl")
    if command is None:
        raise RuntimeError("making a test certificate needs the openssl command")
    names = list(names)
    if not names:
        raise ValueError("give at least one host name or address for the certificate")
    os.makedirs(directory, exist_ok=True)
    pair = CertificatePair(os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem"))
    # An EC P-256 key: made in milliseconds (RSA keys take a noticeable while) and supported
    # by every TLS stack the client may use.
    arguments = [command, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-sha256",
                 "-days", str(VALID_DAYS), "-keyout", pair.key_file, "-out", pair.cert_file,
                 "-subj", "/CN=" + common_name.replace("/", " "),
                 "-addext", "subjectAltName=" + _subject_alt_names(names),
                 "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
                 "-addext", "extendedKeyUsage=serverAuth"]
    try:
        subprocess.run(arguments, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS)
    except subprocess.CalledProcessError as error:
        raise RuntimeError("openssl could not make the certificate: {}".format(
            error.stderr.decode("utf-8", "replace").strip())) from None
    os.chmod(pair.key_file, 0o600)
    return pair


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """What the node's HTTPServer serves TLS with (TLS 1.2 or newer)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
