"""Pusher-protocol-compatible signaling hub: websocket endpoint, HTTP API, bus, webhooks."""
