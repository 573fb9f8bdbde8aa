"""TURN for Pana Mia Live: credentials, the coturn configuration and a connection self-test.

This package imports nothing else of ours: it reads settings through the small protocols in
:mod:`turn.credentials` and :mod:`turn.render`, which ``config.settings.TurnSettings`` fulfils.
"""
