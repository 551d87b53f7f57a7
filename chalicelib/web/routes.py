"""The routes every stage has beside the capabilities': the home page and static files."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.web.responses import redirect, static_file

web = Blueprint(__name__)


@web.route("/", methods=["GET"])
def home() -> Response:
    return redirect("/referral")


@web.route("/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    return static_file(name)
