"""`make deploy`'s stack parameters, from `PARAMS` in the environment to a file for
`aws cloudformation deploy --parameter-overrides file://OUTPUT`, printed with secrets hidden.

    PARAMS='SenderEmail=phb@example.org HelpPhone="020 7946 0000"' \
        python infra/deploy_parameters.py [--check | OUTPUT]

`--check` only reads PARAMS and prints them (make deploy does so before building anything).

PARAMS holds `Name=value` words, quoted as in a shell. Its values reach the aws CLI only
through OUTPUT, never a command line: make echoes its commands, and `ps` shows every process's
arguments to everyone on the machine. OUTPUT should be a file only this user can read (make
deploy makes it with mktemp and removes it afterwards); it is left empty when PARAMS is.
The summary hides the value of every parameter the template marks NoEcho (SessionSecret).
A name that is not one of the template's parameters is refused, since `aws cloudformation
deploy` would silently ignore it; no error message repeats a value.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().with_name("resources.json")


def parse(text: str, parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs of PARAMS; SystemExit naming the problem (never a value)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:  # e.g. "No closing quotation": it does not quote the text
        raise SystemExit(f"ERROR: PARAMS cannot be read ({exc})") from None
    pairs: list[tuple[str, str]] = []
    for number, word in enumerate(words, 1):
        name, equals, value = word.partition("=")
        if not equals or not name:
            raise SystemExit(f"ERROR: word {number} of PARAMS is not Name=value (quote a value "
                             "that has spaces)")
        if name not in parameters:
            # The word is not repeated (a mistyped one may be a secret); the nearest name is.
            near = difflib.get_close_matches(name, list(parameters), n=1)
            hint = f": did you mean {near[0]}?" if near else ""
            raise SystemExit(f"ERROR: word {number} of PARAMS names no parameter of the "
                             f"template{hint} (see docs/DEPLOY.md)")
        if name in (given for given, _ in pairs):
            raise SystemExit(f"ERROR: PARAMS sets {name} twice")
        if name == "StaffEmails" and value.strip():
            _check_staff_list(value)
        pairs.append((name, value))
    return pairs


def _check_staff_list(value: str) -> None:
    """Every entry of StaffEmails in full, as every address is checked (`sendable_address`):
    the functions check only each address's shape when they start, to keep cold starts cheap."""
    sys.path.insert(0, str(TEMPLATE.parent.parent))
    from chalicelib.domain.identity import parse_staff_list, plain_address

    try:
        members = parse_staff_list(value)
    except ValueError as problem:
        raise SystemExit(f"ERROR: StaffEmails: {problem}") from None
    try:
        parse_staff_list(value, plain_address)
    except ValueError:
        # An internationalised domain: the functions take it in the ASCII form mail goes to.
        raise SystemExit("ERROR: StaffEmails: write each address in its ASCII form: "
                         + ", ".join(member.email for member in members)) from None


def summary(pairs: list[tuple[str, str]], parameters: dict[str, Any]) -> str:
    """What is being set, as a person reads it, with NoEcho parameters' values hidden."""
    if not pairs:
        return "Stack parameters: none given (an existing stack keeps its values)"
    shown = [f"{name}=(hidden)" if parameters[name].get("NoEcho") else
             f"{name}={shlex.quote(value)}" for name, value in pairs]
    return "Stack parameters: " + " ".join(shown)


def main(output: str | None) -> int:
    """Check PARAMS and print them, hidden where NoEcho; with `output`, write them there too."""
    parameters: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))["Parameters"]
    pairs = parse(os.environ.get("PARAMS", ""), parameters)
    if pairs and output is not None:
        # Readable by this user only, whoever made the file and whatever the umask.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            # The aws CLI's JSON list of "Name=value" strings (read by versions 1 and 2 alike).
            json.dump([f"{name}={value}" for name, value in pairs], file)
    print(summary(pairs, parameters))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(None if sys.argv[1] == "--check" else sys.argv[1]))
