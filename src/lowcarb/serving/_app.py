"""The inference app: ``POST /predict``, ``/healthz``, ``/readyz``, ``/metrics`` (FastAPI).

Contract (DESIGN.md): ``POST /predict`` (or ``/models/{name}/predict``, or ``/predict?model=NAME``)
with ``{"rows": [[...], ...]}`` answers ``{"predictions": [...], "model", "energy_j",
"energy_method", ...}``. Bad input is the client's fault and gets a 4xx naming the field: 422 for
a body that does not validate (non-numbers, NaN or infinity, no rows, too many rows, the wrong
number of features, malformed JSON), 413 for a body over the size limit, 404 for a model this
server does not serve. A model that raises on validated rows is a 500 with the reason; the server
keeps answering.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict
from starlette.exceptions import HTTPException

from lowcarb.serving._batcher import MicroBatcher, PredictionError
from lowcarb.serving._energy import BatchEnergy, NoEnergy
from lowcarb.serving._metrics import ServingMetrics
from lowcarb.serving._model import ServedModel

__all__ = ["PredictRequest", "PredictResponse", "ServeConfig", "ServingState", "create_app"]

logger = logging.getLogger(__name__)

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_Asgi = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

STAGE = "model"  # the stage label of a single model (cascades name theirs)


@dataclass(frozen=True)
class ServeConfig:
    """How one app serves.

    Attributes:
        max_batch: Most rows run in one ``predict`` call.
        batch_wait_ms: Longest a request waits for others to batch with, milliseconds.
        max_body_bytes: Largest request body, bytes (413 beyond).
        max_rows: Most rows in one request (422 beyond).
        energy_headers: Add ``X-Lowcarb-Energy-J`` and ``X-Lowcarb-Energy-Method`` to responses.
    """

    max_batch: int = 64
    batch_wait_ms: float = 2.0
    max_body_bytes: int = 1_000_000
    max_rows: int = 10_000
    energy_headers: bool = True

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_body_bytes", "max_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 <= self.batch_wait_ms <= 10_000:
            raise ValueError(f"batch_wait_ms must be 0..10000, got {self.batch_wait_ms!r}")


@dataclass
class ServingState:
    """What the probes report: ``ready`` once started, ``draining`` from the stop signal on."""

    model: ServedModel
    config: ServeConfig
    metrics: ServingMetrics
    batcher: MicroBatcher
    energy: BatchEnergy
    ready: bool = False
    draining: bool = False
    co2e_labels: dict[str, str] = field(default_factory=dict)


Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]


class PredictRequest(BaseModel):
    """``{"rows": [[x11, x12, ...], ...]}``: finite numbers, one row per prediction."""

    model_config = ConfigDict(extra="forbid")
    rows: list[list[Number]] = Field(min_length=1, description="feature rows, finite numbers")


class PredictResponse(BaseModel):
    """One prediction per row, and the request's share of its batch's energy and CO2e."""

    predictions: list[Any]
    model: str
    energy_j: float = Field(description="this request's share of its batch's energy, joules")
    energy_method: str = Field(description="measured, estimated, or none (metering off)")
    co2e_g: float | None = Field(description="energy_j at the zone's grid intensity, grams")
    intensity_g_per_kwh: float | None
    intensity_source: str | None


def _error(status: int, loc: Sequence[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}, status_code=status
    )


def create_app(
    model: ServedModel, *, config: ServeConfig, energy: BatchEnergy | None = None
) -> FastAPI:
    """Build the app serving ``model``.

    Args:
        model: The model and its name.
        config: Batching and limits.
        energy: Where batch energy is read (a :class:`~lowcarb.serving.TrackerEnergy` in
            production); None disables metering (``energy_method`` is ``none``).
    """
    meter = energy if energy is not None else NoEnergy()
    metrics = ServingMetrics()
    batcher = MicroBatcher(
        model.model.predict,
        meter,
        max_batch=config.max_batch,
        wait_s=config.batch_wait_ms / 1000.0,
    )
    state = ServingState(model, config, metrics, batcher, meter)
    metrics.operating_point.labels(model=model.name, point="default").set(1)
    metrics.escalations.labels(model=model.name, from_stage=STAGE, to_stage=STAGE)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        await asyncio.to_thread(meter.start)
        await batcher.start()
        intensity = meter.intensity()
        if intensity is not None:
            metrics.grid_intensity.labels(zone=intensity.zone, source=intensity.source).set(
                intensity.intensity_g_per_kwh
            )
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            state.draining = True
            await batcher.stop()
            await asyncio.to_thread(meter.stop)

    app = FastAPI(
        title="lowcarb serve",
        description="Predictions with the energy and CO2e of each request (lowcarb).",
        lifespan=lifespan,
    )
    app.state.lowcarb = state

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Without the inputs: a NaN echoed back would not be valid JSON.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(PredictionError)
    async def _failed(request: Request, exc: PredictionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error answering %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "starting or draining"}})
    async def readyz() -> JSONResponse:
        """The model is loaded and the server takes work (503 while starting or draining)."""
        if state.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if not state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "model": model.name})

    @app.get("/metrics")
    async def metrics_text() -> Response:
        """Prometheus text exposition."""
        return Response(metrics.render(), media_type=metrics.content_type)

    async def _predict(body: PredictRequest, name: str | None, response: Response) -> Any:
        if name is not None and name != model.name:
            return _error(
                404,
                ["model"],
                f"no model named {name[:100]!r}: this server serves {model.name!r}",
                "unknown_model",
            )
        problem = _check_rows(body.rows, model.n_features, config.max_rows)
        if problem is not None:
            return problem
        rows = np.asarray(body.rows, dtype=np.float64)
        result = await batcher.submit(rows)
        metrics.inferences.labels(model=model.name, stage=STAGE).inc(len(rows))
        metrics.request_energy_j.labels(model=model.name).observe(result.energy_j)
        co2e_g = None
        intensity = meter.intensity()
        if result.method != "none":
            metrics.energy_j.labels(model=model.name, stage=STAGE, method=result.method).inc(
                result.energy_j
            )
        if intensity is not None:
            co2e_g = result.energy_j / 3.6e6 * intensity.intensity_g_per_kwh
            metrics.co2e_g.labels(model=model.name, stage=STAGE).inc(co2e_g)
        if config.energy_headers:
            response.headers["X-Lowcarb-Energy-J"] = f"{result.energy_j:.9g}"
            response.headers["X-Lowcarb-Energy-Method"] = result.method
        return PredictResponse(
            predictions=result.predictions,
            model=model.name,
            energy_j=result.energy_j,
            energy_method=result.method,
            co2e_g=co2e_g,
            intensity_g_per_kwh=intensity.intensity_g_per_kwh if intensity else None,
            intensity_source=intensity.source if intensity else None,
        )

    errors: dict[int | str, dict[str, Any]] = {
        404: {"description": "no such model"},
        413: {"description": "body too large"},
        422: {"description": "invalid rows"},
    }

    @app.post("/predict", response_model=PredictResponse, responses=errors)
    async def predict(
        body: PredictRequest,
        response: Response,
        model_name: Annotated[str | None, Query(alias="model", max_length=200)] = None,
    ) -> Any:
        """Predict ``rows`` (``?model=NAME`` must name the served model when given)."""
        return await _predict(body, model_name, response)

    @app.post("/models/{name}/predict", response_model=PredictResponse, responses=errors)
    async def predict_named(name: str, body: PredictRequest, response: Response) -> Any:
        """Predict ``rows`` with the model called ``name``."""
        return await _predict(body, name, response)

    inner = app.build_middleware_stack

    def _stack() -> _Asgi:
        return _observe(_limit_body(inner(), config.max_body_bytes), state)

    app.build_middleware_stack = _stack  # type: ignore[method-assign]
    return app


def _check_rows(rows: list[list[float]], width: int | None, max_rows: int) -> JSONResponse | None:
    if len(rows) > max_rows:
        return _error(
            422,
            ["body", "rows"],
            f"{len(rows)} rows is more than the limit of {max_rows}; split the request",
            "too_many_rows",
        )
    expected = width if width is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != expected:
            why = "the model expects" if width is not None else "the first row has"
            return _error(
                422,
                ["body", "rows", i],
                f"row {i} has {len(row)} feature(s) but {why} {expected}",
                "feature_count",
            )
    return None


def _limit_body(app: _Asgi, max_bytes: int) -> _Asgi:
    """413 for a body over ``max_bytes``: by its Content-Length, and counted while reading."""

    async def limited(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _send_json(send, 400, ["header", "content-length"], "not a number", "header")
                return
            if int(length) > max_bytes:
                await _send_json(send, 413, ["body"], _too_large(max_bytes), "body_too_large")
                return
        received = 0

        async def counted() -> _Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, _too_large(max_bytes))
            return message

        await app(scope, counted, send)

    return limited


def _too_large(max_bytes: int) -> str:
    return f"the body is larger than the limit of {max_bytes} bytes; send fewer rows per request"


async def _send_json(send: _Send, status: int, loc: list[str], msg: str, kind: str) -> None:
    response = _error(status, loc, msg, kind)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _observe(app: _Asgi, state: ServingState) -> _Asgi:
    """Count every prediction request by status code and time it, whatever answered it."""
    name = state.model.name

    async def observed(scope: _Scope, receive: _Receive, send: _Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/predict" or (path.startswith("/models/") and path.endswith("/predict"))):
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 500

        async def record(message: _Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, record)
        finally:
            state.metrics.requests.labels(model=name, stage=STAGE, code=str(code)).inc()
            state.metrics.request_duration_s.labels(model=name).observe(time.perf_counter() - start)

    return observed
