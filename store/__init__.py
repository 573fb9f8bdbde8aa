"""Persistence for Pana Mia Live: one Store protocol, two backends (SQLite, MongoDB).

This package imports nothing else of ours.
"""
