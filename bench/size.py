"""Size: the Lambda deployment zip (built by `make package`), and the referral form's first page
(GET /referral) with the CSS it links, each gzipped as a browser would receive it compressed."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import ROOT

ZIP = ROOT / "out" / "deployment.zip"
CSS = ("static/nhsuk-frontend.min.css", "static/app.css")


@dataclass
class Size:
    zip_bytes: int | None = None
    zip_unpacked_bytes: int = 0
    zip_files: int = 0
    zip_largest: list[tuple[str, int]] = field(default_factory=list)  # top-level, compressed
    package_note: str = ""
    package_s: float = 0.0
    page_bytes: int = 0
    page_gzip: int = 0
    css: list[tuple[str, int, int]] = field(default_factory=list)  # path, bytes, gzipped
    resources: list[tuple[str, str]] = field(default_factory=list)  # logical id, type

    @property
    def first_page_gzip(self) -> int:
        return self.page_gzip + sum(gz for _, _, gz in self.css)

    @property
    def first_page_raw(self) -> int:
        return self.page_bytes + sum(raw for _, raw, _ in self.css)


def _package(result: Size) -> None:
    log = ROOT / "build" / "bench-package.log"
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHB_")}
    done = subprocess.run(["make", "--no-print-directory", "package"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    result.package_s = time.perf_counter() - started
    log.parent.mkdir(exist_ok=True)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        result.package_note = f"`make package` failed (exit {done.returncode}): " + " / ".join(tail)
    else:
        result.package_note = f"built by `make package` in {result.package_s:.0f} s"


def _zip(result: Size) -> None:
    if not ZIP.exists():
        return
    result.zip_bytes = ZIP.stat().st_size
    by_top: Counter[str] = Counter()
    with zipfile.ZipFile(ZIP) as archive:
        for info in archive.infolist():
            result.zip_unpacked_bytes += info.file_size
            result.zip_files += 1
            top = info.filename.split("/", 1)[0]
            if top.endswith((".dist-info", ".libs")):
                top = top.split("-", 1)[0] + " (" + top.rsplit(".", 1)[-1] + ")"
            by_top[top] += info.compress_size
    result.zip_largest = by_top.most_common(8)


def _resources(result: Size) -> None:
    sam = ROOT / "out" / "sam.json"
    if sam.exists():
        template: dict[str, Any] = json.loads(sam.read_text(encoding="utf-8"))
        result.resources = sorted(
            (name, str(body.get("Type"))) for name, body in template.get("Resources", {}).items()
        )


def _first_page(result: Size) -> None:
    """GET /referral through the app (the test client: same handler, no AWS needed)."""
    import app
    from devstack.testclient import browser_client

    with browser_client(app.app, stage_name="local", project_dir=str(ROOT)) as client:
        response = client.http.get("/referral")
    assert response.status_code == 200, response.status_code
    body = response.body if isinstance(response.body, bytes) else response.body.encode()
    result.page_bytes = len(body)
    result.page_gzip = len(gzip.compress(body, compresslevel=6, mtime=0))
    for path in CSS:
        data = Path(ROOT, path).read_bytes()
        result.css.append((path, len(data), len(gzip.compress(data, compresslevel=6, mtime=0))))


def measure(package: bool = True) -> Size:
    result = Size()
    if package:
        _package(result)
    else:
        result.package_note = "reused out/deployment.zip (run without --no-package to rebuild)"
    _zip(result)
    _resources(result)
    _first_page(result)
    return result
