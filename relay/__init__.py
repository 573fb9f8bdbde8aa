"""Media relay: server-side aiortc peers for participants who cannot reach each other.

Wiring (the web layer / composition root):

* ``manager = relay.manager.RelayManager(settings.relay, ice_servers)`` — ``ice_servers`` is
  an explicit ``list[aiortc.RTCIceServer]`` (``[]`` when there is no STUN/TURN; include the
  TURN server so UDP-blocked clients reach the relay through TURN over TCP). Close it on
  shutdown with ``await manager.close()``. Before serving, ``await manager.start()``: it
  checks the installed aiortc/aioice (:mod:`relay.compat`). On failure the relay is disabled
  (not the server): ``manager.unavailable_reason`` says why, for /readyz, and the offer
  endpoint answers 503 ``{"error": reason, "code": "relay_unavailable"}``.
* ``app.router.add_routes(relay.api.make_relay_routes(manager, authorize))`` where
  ``authorize(request, session_id) -> participant_id`` raises ``web.HTTPForbidden`` (or
  ``HTTPUnauthorized``) unless the signed-in user is a participant of the session:

  - ``POST /api/relay/sessions/{session_id}/offer`` ``{"sdp", "type": "offer"}`` ->
    ``{"sdp", "type": "answer"}``. Non-trickle: send the offer after ICE gathering completes.
    Offer one audio and one video m-line, ``sendrecv``: the participant publishes on them and
    receives the other participant's media on the same ones. Errors: 400 (``field`` sdp or
    type), 409 two participants already relayed, 503 ``relay.max_sessions`` reached or the
    relay is unavailable (``code`` ``relay_unavailable``).
  - ``POST /api/relay/sessions/{session_id}/leave`` -> ``{"left": bool}``.
* When a call ends, ``await manager.end(session_id)``; ``manager.stats()`` gives sessions,
  peer_connections, streams and totals for metrics.

The same interface (:class:`relay.service.RelayService`) is met by
``relay.pool.WorkerPool(settings.relay, ice_servers)``, which runs ``relay.workers`` worker
processes (:mod:`relay.worker`), each with its own manager and event loop, places every session
on the least-loaded one and replaces a worker that dies (its calls renegotiate). ``start()``
returns at once; ``await pool.wait_started()`` waits for the first workers. An offer that
arrives while no worker runs waits for one (``relay.pool.OFFER_WAITS_FOR_WORKER_S``).

Media is forwarded without decoding (see :mod:`relay.publication`); only when the two
participants share no codec is it decoded and re-encoded. This package imports ``config``
only.
"""

from relay.errors import BadOffer, RelayError, RelayFull, RelayUnavailable, SessionBusy

__all__ = ["BadOffer", "RelayError", "RelayFull", "RelayUnavailable", "SessionBusy"]
