"""Serving people: HTTP responses and security headers, Jinja2 rendering of pages and emails,
template filters, charts, and the routes every stage has (home, static) or only the local one
has (the outbox)."""
