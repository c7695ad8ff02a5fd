"""The HTTP protocol uvicorn runs until a WebSocket upgrade, letting go of its parser then.

uvicorn's ``HttpToolsProtocol`` and its ``httptools`` parser refer to each other (the
parser calls the protocol back through bound methods). uvicorn breaks that cycle in
``connection_lost``, which never runs for an upgraded connection: the transport now
belongs to the WebSocket protocol. The old protocol is then cyclic garbage (19 objects,
the parser, flow control, the request's headers), freed only by a collection; if a full
collection froze it while the handshake was in flight (``gcstats``: survivors of every
full collection are frozen), it would never be freed. Dropping the parser once the
upgrade is done leaves nothing cyclic: reference counting frees it at once.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["UpgradeReleasingHttp"]


class UpgradeReleasingHttp(HttpToolsProtocol):
    """``HttpToolsProtocol`` that breaks its parser cycle once it hands over to WebSocket."""

    def handle_websocket_upgrade(self) -> None:
        """Upgrade as uvicorn does, then drop the parser (``feed_data`` has returned)."""
        super().handle_websocket_upgrade()
        self.parser = None  # type: ignore[assignment]
