"""`make bench`: speed, cost, scale and size figures for PHB Pathway, printed and written to
docs/PERFORMANCE.md. Nothing here is a pass/fail test: each figure is shown against its target.

Run with `make bench` (or `.venv/bin/python -m bench`). Importing this package does nothing;
each part sets up what it needs when it runs.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
