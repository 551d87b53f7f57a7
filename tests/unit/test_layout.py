"""The shape of the code a newcomer reads: a pure domain, modules small enough to read in one
sitting, every public function documented where it matters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "chalicelib" / "domain"
FORBIDDEN = ("chalice", "boto3", "botocore", "jinja2")
MAX_LINES = 400


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def domain_modules() -> list[Path]:
    modules = sorted(DOMAIN.rglob("*.py"))
    assert len(modules) >= 10
    return modules


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.name)
def test_the_domain_imports_no_framework_and_no_aws(path: Path) -> None:
    bad = {name for name in imported(path) if name.split(".")[0] in FORBIDDEN}
    assert bad == set(), f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    # Nor through anything else of the project's it imports.
    inner = {name for name in imported(path) if name.startswith("chalicelib.")}
    assert all(name.startswith(("chalicelib.domain", "chalicelib.config")) for name in inner), \
        inner


def test_importing_the_whole_domain_loads_none_of_them() -> None:
    names = [f"chalicelib.domain.{p.stem}" for p in domain_modules() if p.stem != "__init__"]
    code = ("import sys\n" + "".join(f"import {name}\n" for name in names)
            + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_check_would_see_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from botocore.exceptions import ClientError\n")
    assert "botocore.exceptions" in imported(sneaky)


def test_no_module_of_the_lambda_code_is_over_400_lines() -> None:
    modules = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py")),
               ROOT / "infra" / "pathway.py"]
    long = {str(p.relative_to(ROOT)): n for p in modules
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_routes_are_registered_by_capability() -> None:
    """app.py registers one Blueprint per capability and defines no route of its own."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    routes = [d for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
              for d in node.decorator_list
              if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "route"]
    assert routes == []
    import app

    paths = set(app.app.routes)
    assert {"/api/referrals", "/act/{action}/{link_id}", "/staff/referrals/{reference}",
            "/referral/{section}", "/static/{name}"} <= paths
