"""Composition root and command line of Pana Mia Live."""
