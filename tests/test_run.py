"""`make run` as a newcomer uses it: the command prints its address, a referral posted to it is
acknowledged in the outbox, and Ctrl-C stops it cleanly, freeing the port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devstack.example import make_referral
from devstack.polling import wait_for
from devstack.run import free_port

ROOT = Path(__file__).resolve().parent.parent


def _get_json(url: str) -> list[dict[str, str]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[dict[str, str]] = json.load(response)
        return result


def test_the_local_run_prints_its_address_acknowledges_a_referral_and_stops_on_ctrl_c() -> None:
    port = free_port("127.0.0.1")
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PHB_", "AWS_", "MOTO_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.run", "--port", str(port)], cwd=ROOT,
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        url = f"http://127.0.0.1:{port}"
        assert f"PHB Pathway is running at {url}\n" in printed, "".join(printed)
        # Whom to sign in as: the local staff list's people, never the advisors' inbox.
        assert any(f"{url}/staff/  (sign in as amara.nwosu@example.org (Amara Nwosu) or "
                   "daniel.price@example.org (Daniel Price))" in line for line in printed), \
            "".join(printed)

        request = urllib.request.Request(
            f"{url}/api/referrals", data=json.dumps(make_referral()).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        submitted = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            reference = json.load(response)["reference"]
        acknowledged = wait_for(lambda: [
            e for e in _get_json(f"{url}/dev/outbox.json")
            if reference in e["subject"] and e["to"] == "sam.okafor@nhs.net"], timeout=10)
        print(f"submit to acknowledgement in the outbox: {time.monotonic() - submitted:.2f} s")
        assert {"to", "subject", "text", "html", "sent_at"} <= set(acknowledged[0])

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest
    assert "Stopped." in rest
    with socket.socket() as again:  # nothing listens any more: the next run can have the port
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


def test_the_local_run_says_plainly_when_nobody_is_on_the_staff_list() -> None:
    from devstack.run import who_signs_in

    said = who_signs_in(())
    assert said.startswith("no staff are listed in PHB_STAFF_EMAILS, so nobody can sign in")
