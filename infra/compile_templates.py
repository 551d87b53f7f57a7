"""Compile every template (the app's and the NHS.UK macros) to Python for the Lambda zip.

Usage: python infra/compile_templates.py vendor/compiled_templates
Chalice copies vendor/ to the zip's root, where chalicelib/web/render.py finds
`compiled_templates/`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.web.render import environment


def main(target: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    env = environment(compiled=False)
    names = env.list_templates()
    env.compile_templates(target, zip=None, ignore_errors=False)
    print(f"compiled {len(names)} templates into {target}")


if __name__ == "__main__":
    main(sys.argv[1])
