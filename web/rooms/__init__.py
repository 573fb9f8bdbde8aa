"""Room ownership in cluster mode: which node serves a session's relay and live notes.

lease.py holds the leases in Redis (scripts.py: the atomic checks), forward.py sends a room's
requests to its owner over the signed internal hop (hop.py), states.py keeps the notes' CRDT
state where every node can load it. ``panamia/app.py`` builds it all only when
``cluster.internal_url`` is set.
"""
