"""`make screens`: a full-page screenshot of each page of the clinician's journey, in
docs/screens/ (01-start.png, 02-referrer.png, … 13-outbox.png, … 25-closure-done.png), then
of a PHB advisor's in the staff console (sign-in, worklist, case page, reports); each also at a
phone's width (01-start-phone.png, …).

Starts the local system on a free port, walks the same journey as the browser test
(tests/browser/journey.py) in Debian's Chromium, and saves each distinct page as it arrives,
numbered in the order first seen. The outbox, visited several times, is saved as last seen:
with every email of the journey, up to "PHB … is closed".
Run with `make screens` or `.venv/bin/python -m bench.screens [--out DIR]`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
OUT = PROJECT / "docs" / "screens"
PHONE_WIDTH = 375


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the PNGs")
    args = parser.parse_args(argv)

    from playwright.sync_api import Page, sync_playwright

    from devstack.run import WALKTHROUGH_TIMINGS, free_port, start
    from tests.browser.journey import (
        VIEWPORT,
        AdvisorJourney,
        ChromiumMissing,
        Journey,
        launch,
    )

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*.png"):
        old.unlink()

    started = time.monotonic()
    local = start("127.0.0.1", free_port("127.0.0.1"), timings=WALKTHROUGH_TIMINGS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not every request, just the pages
    local.serve_in_background()
    saved: dict[str, Path] = {}

    def screenshot(page: Page, name: str) -> None:
        path = saved.setdefault(name, out / f"{len(saved) + 1:02d}-{name}.png")
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        # The same page on a phone: every page must fit 375 px (the browser tests check it).
        phone = path.with_name(path.stem + "-phone.png")
        wide = page.viewport_size or VIEWPORT
        try:
            page.set_viewport_size({"width": PHONE_WIDTH, "height": wide["height"]})
            page.screenshot(path=str(phone), full_page=True, animations="disabled",
                            caret="hide")
        finally:
            page.set_viewport_size(wide)

    try:
        with sync_playwright() as playwright:
            try:
                browser = launch(playwright)
            except ChromiumMissing as missing:
                print(f"ERROR: {missing}", file=sys.stderr)
                return 1
            try:
                context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
                context.set_default_timeout(15_000)
                reference = Journey(context.new_page(), local.url, seen=screenshot).walk()
                # Then a PHB advisor finds the same referral in the staff console.
                AdvisorJourney(context.new_page(), local.url, reference, seen=screenshot).walk()
            finally:
                browser.close()
    finally:
        local.stop()

    total = sum(path.stat().st_size + path.with_name(path.stem + "-phone.png").stat().st_size
                for path in saved.values())
    for path in saved.values():
        print(f"  {path.relative_to(PROJECT) if path.is_relative_to(PROJECT) else path}"
              f"  {path.stat().st_size // 1024} KB")
    print(f"{len(saved)} pages at {VIEWPORT['width']} and {PHONE_WIDTH} px of referral "
          f"{reference}, {total // 1024} KB, in "
          f"{time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
