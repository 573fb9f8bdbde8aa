"""One test suite per interface, run against every implementation of it."""
