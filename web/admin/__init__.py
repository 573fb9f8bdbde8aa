"""The operator console: /admin pages for the people listed in ``admin.emails``."""
