"""PHB Pathway: the Chalice app, its routes registered per capability, and the Lambda entry
points.

Each route parses the request, calls one function of its capability and returns its response;
the modules behind them (pydantic models, Jinja2, boto3) load on first use, not at import:
importing this file is every Lambda cold start.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice, Rate

from chalicelib.actions.routes import act
from chalicelib.config import LOCAL_STAGES, stage_problem
from chalicelib.intake.routes import intake
from chalicelib.referrers.routes import referrers
from chalicelib.staff.routes import staff
from chalicelib.web.outage import guard_routes, refuse_routes
from chalicelib.web.routes import web
from chalicelib.web.security import install as secure_every_request

app = Chalice(app_name="phb-pathway")
for blueprint in (web, intake, act, staff, referrers):
    app.register_blueprint(blueprint)

# PHB_STAGE has no default: without a known one (or with a local one inside Lambda) every route
# answers a plain 503 and the log says why; the other entry points fail at their first use of
# the settings, saying the same.
STAGE_PROBLEM = stage_problem(os.environ)
if STAGE_PROBLEM is not None:
    refuse_routes(app, STAGE_PROBLEM)
else:
    # The outbox of every email sent exists only in the local stages: it is never deployed.
    if os.environ["PHB_STAGE"] in LOCAL_STAGES:
        from chalicelib.web.local import local

        app.register_blueprint(local)
    # A request that AWS fails under answers a plain page (or JSON error), never a bare 500.
    guard_routes(app)
# Security headers on every response; same-origin checks on every change (a refused stage
# changes nothing, and has no settings to say what its origin is).
secure_every_request(app, check_origins=STAGE_PROBLEM is None)


@app.lambda_function(name="pathway")
def pathway(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The state machine's tasks (`chalicelib/workflow/tasks.py`)."""
    from chalicelib.bootstrap import services
    from chalicelib.workflow import tasks

    return tasks.run(services(), event)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="reconcile")
def reconcile(event: Any) -> dict[str, Any]:
    """Every 15 minutes, hand to the advisors each open referral with no running execution;
    and at once when Step Functions says an execution failed, timed out or was stopped (the
    template's ExecutionEndedBadly rule sends its event here too)."""
    from chalicelib.bootstrap import services
    from chalicelib.workflow import reconcile as reconciler

    raw = event.to_dict()
    if raw.get("detail-type") == "Step Functions Execution Status Change":
        return reconciler.execution_ended(services(), raw.get("detail") or {})
    return reconciler.reconcile(services())


@app.schedule(Rate(1, unit=Rate.DAYS), name="retention")
def retention(event: Any) -> dict[str, Any]:
    """Daily: remove personal data from every referral last changed before the retention
    period, whatever its status."""
    from chalicelib.bootstrap import services
    from chalicelib.staff.dataprotection import run_retention

    return {"anonymised": len(run_retention(services()))}
