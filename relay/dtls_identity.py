"""One DTLS identity for every server peer connection of a relay process.

aiortc gives every peer connection a fresh EC key and certificate and, for each DTLS
transport, a new OpenSSL context with them loaded. The relay's connections all present the
same identity, so they share one certificate and one context per SRTP profile list (browsers
check the certificate against the fingerprint in the SDP, which each connection still
carries). The shared contexts also free an idle connection's read and write buffers
(``SSL_MODE_RELEASE_BUFFERS``): after the handshake the relay's DTLS carries next to nothing.
"""

from __future__ import annotations

import datetime

from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCCertificate
from OpenSSL import SSL

from relay import compat

RENEWAL = datetime.timedelta(days=1)
"""The certificate is replaced this long before it expires (aiortc's last 30 days)."""


def _release_idle_buffers(context: SSL.Context) -> None:
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)


class SharedCertificate:
    """The process's DTLS certificate, made on first use and renewed before it expires."""

    def __init__(self) -> None:
        self._certificate: RTCCertificate | None = None

    def current(self) -> RTCCertificate:
        certificate = self._certificate
        now = datetime.datetime.now(tz=datetime.UTC)
        if certificate is None or certificate.expires - now < RENEWAL:
            certificate = RTCCertificate.generateCertificate()
            compat.share_ssl_contexts(certificate, _release_idle_buffers)
            self._certificate = certificate
        return certificate

    def use_in(self, pc: RTCPeerConnection) -> None:
        """Make ``pc`` present the shared certificate (before its first description)."""
        compat.use_certificate(pc, self.current())


SHARED_CERTIFICATE = SharedCertificate()
"""The DTLS identity (and OpenSSL contexts) of every server peer connection in this process."""
