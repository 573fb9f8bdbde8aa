"""What the API and the pages do with the store, shared so handlers never import handlers."""
