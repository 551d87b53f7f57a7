"""Fail the build if `chalice package` produced something Lambda or CloudFormation can't use.

    python infra/check_package.py out/deployment.zip out/sam.json requirements.txt

It reads the artefacts themselves, so it also catches a stale zip reused from a cache.
  1. every `name==version` pin in requirements.txt has its .dist-info in the zip
  2. no wheel in the zip is tagged linux_* (built here from an sdist, not a manylinux wheel)
  3. every compiled .so matches the functions' architecture and Python version in sam.json
  4. app.py, chalicelib/, templates/ and static/ are at the zip root (the last two come in
     through the vendor/ symlinks)
  5. no circular dependency between the template's resources (cfn-lint misses some that run
     through the API's definition body)
  6. every function is told a stage it may serve in (PHB_STAGE dev or prod): without one, or
     with a local one, the app answers every request with a 503 (`make package STAGE=local`)
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

ARCH_IN_SO_NAME = {"x86_64": "x86_64", "arm64": "aarch64"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def check_pins(names: list[str], requirements: str) -> list[str]:
    errors = []
    dist_infos = {
        normalise(top[: -len(".dist-info")])
        for top in {n.split("/")[0] for n in names}
        if top.endswith(".dist-info")
    }
    with open(requirements, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            pin = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[.*\])?==([^\s;]+)", line)
            if not pin:
                errors.append(f"requirement not pinned with ==: {line}")
            elif normalise(f"{pin.group(1)}-{pin.group(2)}") not in dist_infos:
                errors.append(f"missing from zip: {pin.group(1)}=={pin.group(2)}")
    return errors


def check_wheels(zf: zipfile.ZipFile, names: list[str]) -> list[str]:
    errors = []
    for n in names:
        if n.endswith(".dist-info/WHEEL"):
            for tag in re.findall(r"^Tag: (\S+)", zf.read(n).decode(), re.M):
                if tag.split("-")[-1].startswith("linux_"):
                    errors.append(f"locally built (not manylinux) wheel: {n} {tag}")
    return errors


def check_binaries(names: list[str], sam: dict[str, Any]) -> tuple[list[str], str]:
    functions = [r["Properties"] for r in sam["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    archs = {a for f in functions for a in f.get("Architectures", ["x86_64"])}
    runtimes = {f["Runtime"] for f in functions}
    if len(archs) != 1 or len(runtimes) != 1:
        return [f"functions disagree on architecture {archs} or runtime {runtimes}"], "?"
    arch = ARCH_IN_SO_NAME[archs.pop()]
    cpython = "cpython-" + runtimes.pop().removeprefix("python").replace(".", "")
    errors = []
    for n in names:
        if n.endswith(".so") or ".so." in n:
            if arch not in n and "abi3" not in n:
                errors.append(f"shared object not built for {arch}: {n}")
            if "cpython-" in n and cpython not in n:
                errors.append(f"shared object not built for {cpython}: {n}")
    return errors, f"{arch}/{cpython}"


def check_layout(names: list[str]) -> list[str]:
    errors = []
    if "app.py" not in names:
        errors.append("app.py not at zip root")
    for folder, why in (("chalicelib/", ""), ("templates/", " (vendor/templates symlink broken?)"),
                        ("static/", " (vendor/static symlink broken?)")):
        if not any(n.startswith(folder) for n in names):
            errors.append(f"{folder} not at zip root{why}")
    return errors


def dependencies(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value.split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", text))
                if isinstance(value, list):
                    found |= dependencies(value[1])
            else:
                found |= dependencies(value)
    elif isinstance(node, list):
        for item in node:
            found |= dependencies(item)
    return found


def check_cycles(sam: dict[str, Any]) -> list[str]:
    resources = sam["Resources"]
    graph = {}
    for name, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        edges = dependencies(resource.get("Properties", {}))
        edges.update([depends_on] if isinstance(depends_on, str) else depends_on)
        graph[name] = sorted(e for e in edges if e in resources)
    errors, state = [], dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in graph[name]:
            if state[nxt] == 1:
                cycle = [*path[path.index(nxt):], nxt]
                errors.append("circular dependency: " + " -> ".join(cycle))
            elif state[nxt] == 0:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in graph:
        if state[name] == 0:
            visit(name, [name])
    return errors


def check_stages(sam: dict[str, Any]) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from chalicelib.config import DEPLOYED_STAGES

    errors = []
    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            stage = resource["Properties"].get("Environment", {}).get("Variables", {}).get(
                "PHB_STAGE")
            if stage not in DEPLOYED_STAGES:
                errors.append(f"{name}: PHB_STAGE is {stage!r}, not one of "
                              f"{', '.join(DEPLOYED_STAGES)} (see .chalice/config.json)")
    return errors


def main(zip_path: str, sam_path: str, requirements: str) -> int:
    with zipfile.ZipFile(zip_path) as zf, open(sam_path, encoding="utf-8") as f:
        sam = json.load(f)
        names = zf.namelist()
        binary_errors, target = check_binaries(names, sam)
        errors = (check_pins(names, requirements) + check_wheels(zf, names) + binary_errors
                  + check_layout(names) + check_cycles(sam) + check_stages(sam))
    if errors:
        print("PACKAGE CHECK FAILED:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    print(f"package check ok: {len(names)} files, {target}, "
          f"{len(sam['Resources'])} resources, no dependency cycles")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:4]))
