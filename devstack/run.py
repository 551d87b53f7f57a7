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
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LOCAL_TIMINGS = {
    "PHB_REVIEW_AFTER_SECONDS": "120",  # the "6-week" review two minutes after release
    "PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW": "120",
    "PHB_REMINDER_AFTER_SECONDS": "600",
}


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)

    # moto compares Wait-state timestamps with the local clock: keep this process in UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()

    from moto.server import ThreadedMotoServer

    from devstack import stack

    moto_host = "127.0.0.1"
    moto_port = free_port(moto_host)
    public_url = f"http://{args.host}:{args.port}"
    os.environ.update(stack.base_environment(public_url))
    # Locally the pathway runs in minutes, so a newcomer can click through all of it; each can
    # still be overridden from the environment.
    for name, value in LOCAL_TIMINGS.items():
        os.environ.setdefault(name, value)
    os.environ.update({
        "PHB_STAGE": "local",
        "AWS_ENDPOINT_URL": f"http://{moto_host}:{moto_port}",
        # moto's Step Functions engine calls Lambda at localhost:$MOTO_PORT.
        "MOTO_PORT": str(moto_port),
    })

    # moto's server logs every AWS call; the app's own requests are what a developer watches.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address=moto_host, port=moto_port, verbose=False)
    moto.start()
    request = urllib.request.Request(
        f"http://{moto_host}:{moto_port}/moto-api/config",
        data=json.dumps(stack.MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()

    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(PROJECT))
    config = factory.create_config_obj(chalice_stage_name="local")
    app = factory.load_chalice_app(config.environment_variables)
    application = sys.modules["app"]
    created = stack.create(application.pathway)

    try:
        server = factory.create_local_server(app, config, args.host, args.port)
    except OSError as exc:
        moto.stop()
        print(f"Cannot listen on {public_url}: {exc}. Try `make run PORT=8001`.", file=sys.stderr)
        return 1
    print(
        f"\nPHB Pathway is running at {public_url}\n"
        f"  referral form   {public_url}/referral\n"
        f"  emails sent     {public_url}/dev/outbox\n"
        f"  API             POST {public_url}/api/referrals  (schema: {public_url}/openapi.json)\n"
        f"  AWS (moto)      http://{moto_host}:{moto_port}  table {created.table_name}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and a plain `kill`, stop cleanly even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
        moto.stop()
        print("\nStopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
