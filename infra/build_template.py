"""Build the merge template for `chalice package`: infra/resources.json with the state machine
definition from infra/pathway.asl.json inlined as the `Definition` object.

    python infra/build_template.py [RESOURCES ASL OUTPUT]

Defaults: infra/resources.json infra/pathway.asl.json build/resources.json (from the repo root).
The ASL file stays the one source of the workflow: the tests and the local stack load it too.
Fails if the ASL uses a `${Name}` placeholder that `DefinitionSubstitutions` does not fill.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = (
    ROOT / "infra" / "resources.json",
    ROOT / "infra" / "pathway.asl.json",
    ROOT / "build" / "resources.json",
)
STATE_MACHINE = "PathwayStateMachine"


def build(resources: Path, asl: Path, output: Path) -> None:
    template = json.loads(resources.read_text(encoding="utf-8"))
    asl_text = asl.read_text(encoding="utf-8")
    definition = json.loads(asl_text)
    props = template["Resources"][STATE_MACHINE]["Properties"]
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_text))
    missing = placeholders - set(props.get("DefinitionSubstitutions", {}))
    if missing:
        sys.exit(f"{asl}: no DefinitionSubstitutions for {', '.join(sorted(missing))}")
    props["Definition"] = definition
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {output} ({STATE_MACHINE} definition from {asl})")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (0, 3):
        sys.exit(__doc__)
    build(*(map(Path, args) if args else DEFAULTS))
