"""`make run`: the whole system on this computer, with no AWS account and no internet.

moto runs as a server in this process (DynamoDB, Step Functions really executing the deployed
ASL file, SES), the state machine's Lambda tasks run the app's own functions here, and the
Chalice app is served by Chalice's local server. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.domain.identity import StaffMember

PROJECT = Path(__file__).resolve().parent.parent
LOCAL_TIMINGS = {
    "PHB_REVIEW_AFTER_SECONDS": "120",  # the "6-week" review two minutes after release
    "PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW": "120",
    "PHB_REMINDER_AFTER_SECONDS": "600",
    # A referral whose pathway stopped unnoticed is found within about two minutes.
    "PHB_RECONCILE_AFTER_SECONDS": "60",
}
# The reconciler runs every 15 minutes on AWS; here every minute.
RECONCILE_EVERY_SECONDS = 60
# For a program walking the whole journey (the browser tests, `make screens`): the review and
# closure come two seconds after the step before.
WALKTHROUGH_TIMINGS = {**LOCAL_TIMINGS, "PHB_REVIEW_AFTER_SECONDS": "2",
                       "PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW": "2"}


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalStack:
    """The system running on this computer: the app at `url`, moto at `moto_url`."""

    url: str
    moto_url: str
    table_name: str
    server: Any
    moto: Any
    saved_environ: dict[str, str | None]

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop both servers and put the environment back as it was."""
        from devstack import lambdas

        self.server.server.shutdown()
        self.server.server.server_close()
        self.moto.stop()
        lambdas.uninstall()
        _restore(self.saved_environ)


def _serve(moto_host: str, moto_port: int, host: str, port: int) -> tuple[Any, Any]:
    """Configure moto, create the resources, and make the app's server (not yet serving)."""
    from devstack import stack

    # moto's backends live in this process: start from empty even if a stack ran here before.
    urllib.request.urlopen(urllib.request.Request(
        f"http://{moto_host}:{moto_port}/moto-api/reset", data=b"", method="POST"),
        timeout=10).close()
    request = urllib.request.Request(
        f"http://{moto_host}:{moto_port}/moto-api/config",
        data=json.dumps(stack.MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()

    from chalice.app import Chalice
    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler

    # Chalice's local server writes a response's headers and body in separate sends: with
    # Nagle's algorithm on, the client's delayed ACK holds every response about 40 ms.
    ChaliceRequestHandler.disable_nagle_algorithm = True

    factory = CLIFactory(project_dir=str(PROJECT))
    config = factory.create_config_obj(chalice_stage_name="local")
    app = factory.load_chalice_app(config.environment_variables)
    created = stack.create(sys.modules["app"].pathway)
    # Chalice's local server re-classes the app object; a second stack in one process (tests)
    # must start from the plain class again.
    app.__class__ = Chalice
    return factory.create_local_server(app, config, host, port), created


def _restore(saved: dict[str, str | None]) -> None:
    from devstack.stack import forget_settings_and_clients

    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    time.tzset()
    forget_settings_and_clients()


def start(host: str = "127.0.0.1", port: int = 8000,
          timings: dict[str, str] | None = None) -> LocalStack:
    """Start moto and the app (not yet serving: call serve_forever or serve_in_background)."""
    from moto.server import ThreadedMotoServer

    from devstack import stack

    moto_host = "127.0.0.1"
    moto_port = free_port(moto_host)
    public_url = f"http://{host}:{port}"
    settings = {
        **stack.base_environment(public_url),
        "PHB_STAGE": "local",
        "AWS_ENDPOINT_URL": f"http://{moto_host}:{moto_port}",
        # moto's Step Functions engine calls Lambda at localhost:$MOTO_PORT.
        "MOTO_PORT": str(moto_port),
        # moto compares Wait-state timestamps with the local clock: keep this process in UTC.
        "TZ": "UTC",
    }
    # Locally the pathway runs in minutes, so a newcomer can click through all of it; each can
    # still be overridden from the environment.
    for name, value in (LOCAL_TIMINGS if timings is None else timings).items():
        settings.setdefault(name, os.environ.get(name, value))
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    time.tzset()
    stack.forget_settings_and_clients()

    # moto's server logs every AWS call; the app's own requests are what a developer watches.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address=moto_host, port=moto_port, verbose=False)
    moto.start()
    try:
        server, created = _serve(moto_host, moto_port, host, port)
    except BaseException:
        # Leave nothing behind: later code in this process must not talk to a dead endpoint.
        moto.stop()
        _restore(saved)
        raise
    return LocalStack(public_url, f"http://{moto_host}:{moto_port}", created.table_name,
                      server, moto, saved)


def who_signs_in(staff: tuple[StaffMember, ...]) -> str:
    """Whom a developer signs in to the staff console as: the staff list's people, each at
    their own address; or, plainly, that nobody can (the list is never the advisors' inbox)."""
    if not staff:
        return ("no staff are listed in PHB_STAFF_EMAILS, so nobody can sign in: set it to "
                "e.g. 'Jo Adeyemi <jo.adeyemi@example.org>'")
    people = [f"{member.email} ({member.name})" if member.name else member.email
              for member in staff]
    return "sign in as " + " or ".join(people)


def reconcile_every(seconds: float) -> None:
    """The reconcile function's schedule, locally: find referrals whose pathway stopped."""
    from chalicelib.bootstrap import services
    from chalicelib.workflow.reconcile import reconcile

    while True:
        time.sleep(seconds)
        try:
            reconcile(services())
        except Exception:  # the local stack may be stopping; the next run tries again
            logging.getLogger(__name__).debug("reconcile failed", exc_info=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    try:
        local = start(args.host, args.port)
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc}. Try `make run PORT=8001`.",
              file=sys.stderr)
        return 1
    from chalicelib.config import get_settings

    url = local.url
    print(
        f"\nPHB Pathway is running at {url}\n"
        f"  referral form   {url}/referral\n"
        f"  emails sent     {url}/dev/outbox\n"
        f"  staff console   {url}/staff/  ({who_signs_in(get_settings().staff)})\n"
        f"  API             POST {url}/api/referrals  (schema: {url}/openapi.json)\n"
        f"  AWS (moto)      {local.moto_url}  table {local.table_name}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    threading.Thread(target=reconcile_every, args=(RECONCILE_EVERY_SECONDS,), daemon=True,
                     name="reconcile").start()

    # Ctrl-C, and a plain `kill`, stop cleanly even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        local.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        local.server.server.server_close()
        local.moto.stop()
        print("\nStopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
