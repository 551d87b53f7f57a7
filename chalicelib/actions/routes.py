"""The action links' routes: `/act/<action>/<link id>`. GET shows, POST acts."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.bootstrap import services
from chalicelib.web.requests import body_of

act = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


@act.route("/act/{action}/{link_id}", methods=["GET"])
def action_page(action: str, link_id: str) -> Response:
    from chalicelib.actions import pages

    return pages.show(services(), action, link_id)


@act.route("/act/{action}/{link_id}", methods=["POST"], content_types=FORM)
def action_submit(action: str, link_id: str) -> Response:
    from chalicelib.actions import pages

    return pages.act(services(), action, link_id, body_of(act.current_request))
