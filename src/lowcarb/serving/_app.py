"""The inference app: ``POST /predict``, ``/healthz``, ``/readyz``, ``/metrics`` (FastAPI).

Metrics are counted by stage: a single model's stage is ``model``; a cascade's are its stage
labels, and a request is labelled with the last stage any of its rows reached.

Contract (DESIGN.md): ``POST /predict`` (or ``/models/{name}/predict``, or ``/predict?model=NAME``)
with ``{"rows": [[...], ...]}`` answers ``{"predictions": [...], "model", "energy_j",
"energy_method", ...}``. Bad input is the client's fault and gets a 4xx naming the field: 422 for
a body that does not validate (non-numbers, NaN or infinity, values beyond the 32-bit float
range, no rows, too many rows, the wrong number of features, malformed JSON), 413 for a body over
the size limit, 415 for a body not sent as ``application/json``, 404 for a model this server does
not serve. A model that raises on validated rows is a 500 with the reason; the server keeps
answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict
from starlette.exceptions import HTTPException as StarletteHTTPException

from lowcarb.serving._asgi import (
    STAGE_KEY,
    Asgi,
    error_response,
    limit_body,
    observe,
    require_json,
)
from lowcarb.serving._batcher import MicroBatcher, PredictionError
from lowcarb.serving._energy import BatchEnergy, NoEnergy
from lowcarb.serving._feature_log import FeatureLog
from lowcarb.serving._metrics import ServingMetrics, record_prediction
from lowcarb.serving._model import ServedModel

__all__ = ["PredictRequest", "PredictResponse", "ServeConfig", "ServingState", "create_app"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    """How one app serves.

    Attributes:
        max_batch: Most rows run in one ``predict`` call.
        batch_wait_ms: Longest a request waits for others to batch with, milliseconds.
        max_body_bytes: Largest request body, bytes (413 beyond).
        max_rows: Most rows in one request (422 beyond).
        energy_headers: Add ``X-Lowcarb-Energy-J`` and ``X-Lowcarb-Energy-Method`` to responses.
        dirty_above_g_per_kwh: For a cascade: above this grid intensity, serve the cheapest
            pre-fitted operating point that keeps ``accuracy_floor`` (checked every
            ``point_check_s``); None keeps the starting point.
        accuracy_floor: The lowest validation accuracy a point may have, 0..1.
        point_check_s: How often the grid's intensity is looked at again, seconds.
        feature_log: Append each answered request's rows and predictions to this JSON Lines
            file (:class:`~lowcarb.serving.FeatureLog`), for ``lowcarb monitor``.
    """

    max_batch: int = 64
    batch_wait_ms: float = 2.0
    max_body_bytes: int = 1_000_000
    max_rows: int = 10_000
    energy_headers: bool = True
    dirty_above_g_per_kwh: float | None = None
    accuracy_floor: float = 0.0
    point_check_s: float = 60.0
    feature_log: Path | None = None

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
    point: str = ""
    point_checked_s: float = float("-inf")

    def update_point(self, now_s: float) -> None:
        """Move a cascade to the operating point the grid calls for (see ``ServeConfig``)."""
        limit = self.config.dirty_above_g_per_kwh
        if limit is None or not self.model.is_cascade:
            return
        if now_s - self.point_checked_s < self.config.point_check_s:
            return
        self.point_checked_s = now_s
        intensity = self.energy.intensity()
        choice = self.model.model.select_point(
            intensity.intensity_g_per_kwh if intensity is not None else None,
            dirty_above_g_per_kwh=limit,
            accuracy_floor=self.config.accuracy_floor,
        )
        if choice.point.name != self.point:
            log.info("operating point %s -> %s: %s", self.point, choice.point.name, choice.reason)
            self.point = choice.point.name
            for name in self.model.points:
                self.metrics.operating_point.labels(model=self.model.name, point=name).set(
                    1 if name == self.point else 0
                )


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
    stages: list[str] | None = Field(
        default=None, description="for a cascade, the stage that answered each row"
    )
    operating_point: str = Field(description="the cascade operating point ('default': a model)")


_error = error_response
#: Largest magnitude a feature may have: ONNX models take 32-bit floats, and a larger value
#: would become infinity inside the model (a prediction of null, not an answer).
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def create_app(
    model: ServedModel,
    *,
    config: ServeConfig,
    energy: BatchEnergy | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """Build the app serving ``model``.

    Args:
        model: The model and its name.
        config: Batching and limits.
        energy: Where batch energy is read (a :class:`~lowcarb.serving.TrackerEnergy` in
            production); None disables metering (``energy_method`` is ``none``).
        clock: Wall clock for the feature log's times (injected for tests).
    """
    meter = energy if energy is not None else NoEnergy()
    metrics = ServingMetrics()
    holder: list[ServingState] = []

    def predict_rows(rows: Any) -> Any:
        # The point in use is read per batch: the grid may have moved the cascade to another.
        return model.predict_at(rows, holder[0].point if holder else model.point)

    batcher = MicroBatcher(
        predict_rows,
        meter,
        max_batch=config.max_batch,
        wait_s=config.batch_wait_ms / 1000.0,
    )
    state = ServingState(model, config, metrics, batcher, meter, point=model.point)
    holder.append(state)
    for point in model.points:
        metrics.operating_point.labels(model=model.name, point=point).set(
            1 if point == model.point else 0
        )

    feature_log = (
        None if config.feature_log is None else FeatureLog(config.feature_log, clock=clock)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if feature_log is not None:
            feature_log.open()
        await asyncio.to_thread(meter.start)
        await batcher.start()
        metrics.set_intensity(meter.intensity())
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            state.draining = True
            await batcher.stop()
            await asyncio.to_thread(meter.stop)
            if feature_log is not None:
                feature_log.close()

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

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:  # a chunked body over the limit, counted while read
            return _error(413, ["body"], str(exc.detail), "body_too_large")
        return await http_exception_handler(request, exc)

    @app.exception_handler(PredictionError)
    async def _failed(request: Request, exc: PredictionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error answering %s %s", request.method, request.url.path)
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
        metrics.set_intensity(meter.intensity())
        return Response(metrics.render(), media_type=metrics.content_type)

    async def _predict(
        body: PredictRequest, name: str | None, request: Request, response: Response
    ) -> Any:
        setattr(request.state, STAGE_KEY, model.stages[0])
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
        problem = _check_range(rows)
        if problem is not None:
            return problem
        state.update_point(time.monotonic())
        result = await batcher.submit(rows)
        intensity = meter.intensity()
        metrics.set_intensity(intensity)
        co2e_g, last_stage = record_prediction(metrics, model, result, intensity)
        setattr(request.state, STAGE_KEY, last_stage)
        if feature_log is not None:
            feature_log.write(model.name, body.rows, result.predictions)
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
            stages=[model.stages[k] for k in result.stages] if result.stages else None,
            operating_point=state.point,
        )

    errors: dict[int | str, dict[str, Any]] = {
        404: {"description": "no such model"},
        413: {"description": "body too large"},
        415: {"description": "body not sent as application/json"},
        422: {"description": "invalid rows"},
    }

    @app.post("/predict", response_model=PredictResponse, responses=errors)
    async def predict(
        body: PredictRequest,
        request: Request,
        response: Response,
        model_name: Annotated[str | None, Query(alias="model", max_length=200)] = None,
    ) -> Any:
        """Predict ``rows`` (``?model=NAME`` must name the served model when given)."""
        return await _predict(body, model_name, request, response)

    @app.post("/models/{name}/predict", response_model=PredictResponse, responses=errors)
    async def predict_named(
        name: str, body: PredictRequest, request: Request, response: Response
    ) -> Any:
        """Predict ``rows`` with the model called ``name``."""
        return await _predict(body, name, request, response)

    def done(stage: str | None, code: int, duration_s: float) -> None:
        label = stage if stage is not None else model.stages[0]
        metrics.requests.labels(model=model.name, stage=label, code=str(code)).inc()
        metrics.request_duration_s.labels(model=model.name).observe(duration_s)

    inner = app.build_middleware_stack

    def _stack() -> Asgi:
        return observe(require_json(limit_body(inner(), config.max_body_bytes)), done)

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


def _check_range(rows: np.ndarray[Any, Any]) -> JSONResponse | None:
    beyond = np.abs(rows) > _FLOAT32_MAX
    if not beyond.any():
        return None
    i = int(np.argmax(beyond.any(axis=1)))
    return _error(
        422,
        ["body", "rows", i],
        f"row {i} has a value beyond +-{_FLOAT32_MAX:.4g}, the range of the model's 32-bit "
        "float input; rescale the feature",
        "value_out_of_range",
    )
