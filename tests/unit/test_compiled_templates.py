"""The templates compiled into the Lambda zip render exactly what the sources render."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.config import Settings
from chalicelib.web import render

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("template", ["referral/start.html", "error.html"])
def test_compiled_templates_render_the_same_page(tmp_path: Path, template: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "compiled_templates"
    subprocess.run([sys.executable, str(ROOT / "infra" / "compile_templates.py"), str(target)],
                   check=True, capture_output=True)
    context = {"settings": Settings(stage="test"), "base": "", "expired": False, "sections": [],
               "title": "T", "message": "M <b>"}
    from_source = render.environment(compiled=False).get_template(template).render(**context)
    monkeypatch.setattr(render, "COMPILED", target)
    render.environment.cache_clear()
    try:
        env = render.environment()
        assert type(env.loader.loaders[0]).__name__ == "ModuleLoader"
        assert env.get_template(template).render(**context) == from_source
    finally:
        render.environment.cache_clear()
