"""Schema migrations of the SQLite store (MongoDB needs only the indexes in store.mongo)."""
