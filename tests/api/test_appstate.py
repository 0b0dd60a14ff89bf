"""The application's typed state: every attribute `AppState` declares is set at start-up, the
typed accessor refuses an application not made by `create_app`, and a round started through the
API and through the service is the same path (one `start_round`)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from api.appstate import AppState, app_state
from tests.api.conftest import Api


def test_every_declared_attribute_is_set_at_start(api: Api) -> None:
    state = api.app.state
    assert isinstance(state, AppState)
    missing = [name for name in AppState.__annotations__ if not hasattr(state, name)]
    assert missing == []
    assert state.batcher is not None and state.runner.name


def test_the_typed_accessor_refuses_a_foreign_application() -> None:
    request = Request({"type": "http", "app": FastAPI(), "headers": []})
    with pytest.raises(TypeError, match="create_app"):
        app_state(request)


def test_a_planner_may_not_start_an_official_round(api: Api) -> None:
    api.import_pilot()
    r = api.post("/v1/rounds", "planner", json={"kind": "official"})
    assert r.status_code == 403
    assert r.json()["detail"] == "planners may run scenario rounds only"
    assert api.post("/v1/rounds", "planner", json={"kind": "scenario"}).status_code == 201
