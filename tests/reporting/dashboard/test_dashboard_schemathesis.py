"""Schemathesis against the dashboard's own OpenAPI document: no 5xx, and responses conform.

Property-based requests (a deterministic seed, a modest number of examples per operation) go
to the dashboard over the seeded ledger twice: anonymous on loopback over a ledger without
tokens, and with an admin token over one with tokens (writes included). Checks: no server
error; status codes, content types, headers and bodies as the document declares them.
Schema-valid requests the API refuses (an unknown team is a valid string) are expected, so
"positive data acceptance" is not checked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from dashboard_helpers import NOW, build_world, make_tokens
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lowcarb.reporting.dashboard import create_dashboard_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Built at import (schemathesis parametrizes from the app's document at collection time); the
# directories live as long as the test process.
_DIRS = [Path(tempfile.mkdtemp(prefix="lowcarb-dash-st-")) for _ in range(2)]
_open = build_world(f"sqlite:///{_DIRS[0] / 'ledger.db'}", _DIRS[0])
_guarded = build_world(f"sqlite:///{_DIRS[1] / 'ledger.db'}", _DIRS[1])
_TOKENS = make_tokens(_guarded.url)

open_app = create_dashboard_app(_open.url, clock=lambda: NOW, environ={})
open_schema = schemathesis.openapi.from_asgi("/openapi.json", open_app)
guarded_app = create_dashboard_app(_guarded.url, clock=lambda: NOW, environ={})
guarded_schema = schemathesis.openapi.from_asgi("/openapi.json", guarded_app)


@open_schema.parametrize()
@SETTINGS
def test_anonymous_local_dashboard_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@guarded_schema.exclude(path_regex=r"^/emissions/").parametrize()
@SETTINGS
def test_admin_token_dashboard_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {_TOKENS.admin}"})
