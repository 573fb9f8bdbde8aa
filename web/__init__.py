"""The mentoring web app: pages and the JSON API, thin handlers over store and hub."""
