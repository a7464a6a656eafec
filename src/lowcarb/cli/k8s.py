"""`lowcarb k8s serve|intensity-configmap|job|release`: Kubernetes manifests and batch Jobs.

``serve NAME --image IMAGE --model PATH``: Deployment, Service and autoscaling for the server.
``intensity-configmap --zone Z``: the carbon-intensity forecast ConfigMap the carbon-aware KEDA
operator reads (the format of Azure's carbon intensity exporter), from lowcarb's forecast.
``job NAME --image IMG --duration D --deadline D --zone Z -- CMD``: a batch Job created suspended
with its low-carbon plan; ``release``: the controller that un-suspends it at the planned start
(both in :mod:`lowcarb.cli._k8s_batch`).
The manifests are built by :mod:`lowcarb.integrations.k8s`; this module parses and prints them.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lowcarb._files import check_output_path, write_atomic
from lowcarb._text import plain
from lowcarb.cli._common import CliContext, positive_float, positive_int
from lowcarb.cli._k8s_batch import register_job, register_release
from lowcarb.cli.intensity import parse_horizon_h
from lowcarb.errors import UsageError
from lowcarb.grid import PROVIDER_NAMES, TraceIntensitySource, forecaster_names, open_provider
from lowcarb.integrations.k8s import (
    FORECAST_CONFIGMAP,
    CarbonAware,
    Resources,
    forecast_configmap_ref,
    intensity_configmap,
    serve_manifests,
    to_yaml,
    zone_forecast,
)
from lowcarb.units import parse_timestamp

__all__ = ["register"]

#: Where the CarbonAwareKedaScaler reads the forecast and intensity-configmap writes it.
_DEFAULT_REF = f"{FORECAST_CONFIGMAP[0]}/{FORECAST_CONFIGMAP[1]}"


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"value must be >= 0, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``k8s`` command group."""
    parser = sub.add_parser(
        "k8s",
        help="Kubernetes: serving manifests, batch Jobs released at green times",
        description="Generate Kubernetes manifests as YAML (or JSON); create batch Jobs "
        "suspended with their low-carbon plan and release them at the planned start.",
    )
    cmds = parser.add_subparsers(dest="k8s_command", metavar="SUBCOMMAND", required=True)
    p = cmds.add_parser(
        "serve",
        help="Deployment, Service and autoscaling for `lowcarb serve`",
        description="Deployment and Service for `lowcarb serve MODEL`, with a KEDA ScaledObject "
        "that scales on the request rate, to zero when idle with --min-replicas 0 and "
        "--scale-query (or, with --no-keda, a CPU "
        "HorizontalPodAutoscaler; never both on one Deployment), and optionally a "
        "CarbonAwareKedaScaler capping replicas by grid intensity.",
    )
    p.add_argument("name", metavar="NAME", help="name of every object (a DNS-1123 label)")
    p.add_argument("--image", required=True, help="container image built from deploy/Dockerfile")
    p.add_argument("--model", required=True, help="model or cascade file, a path in the image")
    p.add_argument("--namespace", default="default", help="namespace (default: default)")
    p.add_argument("--port", type=positive_int, default=8080, help="server port (default: 8080)")
    p.add_argument(
        "--min-replicas",
        type=_non_negative_int,
        default=1,
        help="fewest replicas (default: 1); 0 scales to zero and needs --scale-query",
    )
    p.add_argument("--max-replicas", type=positive_int, default=5, help="(default: 5)")
    p.add_argument("--cpu-request", default="250m", help="(default: 250m)")
    p.add_argument("--cpu-limit", default="1", help="(default: 1)")
    p.add_argument("--memory-request", default="512Mi", help="(default: 512Mi)")
    p.add_argument("--memory-limit", default="1Gi", help="(default: 1Gi)")
    p.add_argument(
        "--prometheus-url",
        default="http://prometheus-server.monitoring.svc:9090",
        help="where KEDA queries the request rate",
    )
    p.add_argument(
        "--requests-per-replica",
        type=positive_float,
        default=5.0,
        help="KEDA target, requests/s per replica (default: 5)",
    )
    p.add_argument(
        "--scale-query",
        metavar="PROMQL",
        help="request rate counted in front of the pods, which KEDA scales on instead of the "
        "server's own lowcarb_requests_total (needed for --min-replicas 0: with no pod running "
        "nothing else counts the requests that should wake one), e.g. "
        "'sum(rate(nginx_ingress_controller_requests{exported_service=\"iris\"}[2m]))'",
    )
    p.add_argument("--no-keda", dest="keda", action="store_false", help="a CPU HPA instead of KEDA")
    p.add_argument(
        "--carbon-aware-zone",
        metavar="ZONE",
        help="add a CarbonAwareKedaScaler for this grid zone (needs KEDA); it reads the forecast "
        "ConfigMap that `lowcarb k8s intensity-configmap --zone ZONE` writes (or Azure's carbon "
        "intensity exporter), by default key 'data' of " + _DEFAULT_REF,
    )
    p.add_argument(
        "--forecast-configmap",
        metavar="NAMESPACE/NAME",
        default=_DEFAULT_REF,
        help="where the scaler reads the forecast: the --namespace/--name given to "
        f"`k8s intensity-configmap` (default: {_DEFAULT_REF})",
    )
    p.add_argument("-o", "--output", type=Path, help="write the YAML here instead of stdout")
    p.set_defaults(func=_serve)
    _register_intensity_configmap(cmds)
    register_job(cmds)
    register_release(cmds)


def _register_intensity_configmap(cmds: argparse._SubParsersAction[Any]) -> None:
    p = cmds.add_parser(
        "intensity-configmap",
        help="the carbon-intensity forecast ConfigMap the carbon-aware KEDA operator reads",
        description="A ConfigMap holding lowcarb's hourly carbon-intensity forecast of a zone "
        "(gCO2e/kWh), in the exact format of Azure's Kubernetes carbon intensity exporter, so the "
        "CarbonAwareKedaScaler of `lowcarb k8s serve --carbon-aware-zone` reads it unchanged. "
        "Source: a trace (--trace; with --now only data before it is used), a live API "
        "(--provider), else the embedded month x hour profile; the ConfigMap's message and "
        "annotations say which. Points start at the first hour at or after --now: refresh a "
        "little before the hour, e.g. `... | kubectl replace --force -f -` (it is immutable, "
        "as the exporter writes it; --mutable for `kubectl apply`).",
    )
    p.add_argument("--zone", required=True, help="zone id or cloud region, e.g. DE")
    p.add_argument("--trace", metavar="FILE", help="trace CSV (3 formats, see DESIGN.md)")
    p.add_argument("--trace-tz", metavar="TZ", help="time zone of naive trace timestamps")
    p.add_argument(
        "--scope",
        choices=("lifecycle", "direct"),
        default="lifecycle",
        help="LCA or direct column of an Electricity Maps file (default lifecycle)",
    )
    p.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="a live API's forecast instead (credentials from the environment, as for "
        "`lowcarb intensity forecast`)",
    )
    p.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        choices=sorted(forecaster_names()),
        help="forecaster (default lag-ridge with --trace, profile without)",
    )
    p.add_argument("--now", metavar="TIMESTAMP", help="ISO 8601 with offset (default: the clock)")
    p.add_argument("--horizon", default="24h", help="e.g. 24h, 48h, 7d (default 24h)")
    p.add_argument(
        "--namespace",
        default=FORECAST_CONFIGMAP[0],
        help=f"(default: {FORECAST_CONFIGMAP[0]})",
    )
    p.add_argument(
        "--name", default=FORECAST_CONFIGMAP[1], help=f"(default: {FORECAST_CONFIGMAP[1]})"
    )
    p.add_argument(
        "--mutable",
        dest="immutable",
        action="store_false",
        help="leave out `immutable: true` so `kubectl apply` can update it in place",
    )
    p.add_argument("--json", action="store_true", help="the manifest as one JSON object")
    p.add_argument("-o", "--output", type=Path, help="write it here instead of stdout")
    p.set_defaults(func=_intensity_configmap)


def _forecast_ref(text: str) -> tuple[str, str, str]:
    namespace, sep, name = text.partition("/")
    if not sep:
        raise UsageError(
            f"--forecast-configmap {plain(text)!r} must be NAMESPACE/NAME, e.g. {_DEFAULT_REF}"
        )
    return forecast_configmap_ref(namespace, name)


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output is not None:
        check_output_path(args.output, what="--output")
    carbon_aware = None
    if args.forecast_configmap != _DEFAULT_REF and not args.carbon_aware_zone:
        raise UsageError("--forecast-configmap needs --carbon-aware-zone (the scaler reads it)")
    if args.carbon_aware_zone:
        carbon_aware = CarbonAware(
            args.carbon_aware_zone, forecast_configmap=_forecast_ref(args.forecast_configmap)
        )
    objects = serve_manifests(
        args.name,
        args.image,
        args.model,
        namespace=args.namespace,
        port=args.port,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        resources=Resources(
            cpu_request=args.cpu_request,
            memory_request=args.memory_request,
            cpu_limit=args.cpu_limit,
            memory_limit=args.memory_limit,
        ),
        prometheus_url=args.prometheus_url,
        requests_per_replica=args.requests_per_replica,
        keda=args.keda,
        carbon_aware=carbon_aware,
        scale_query=args.scale_query,
    )
    text = to_yaml(objects)
    if args.output is None:
        ctx.stdout.write(text)
        ctx.stdout.flush()
    else:
        write_atomic(args.output, text)
        kinds = ", ".join(o["kind"] for o in objects)
        print(f"lowcarb: wrote {kinds} to {args.output}", file=ctx.stderr)
    return 0


def _intensity_configmap(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output is not None:
        check_output_path(args.output, what="--output")
    forecast_configmap_ref(args.namespace, args.name)  # bad names fail before any work
    if args.trace and args.provider:
        raise UsageError("give either --trace or --provider, not both")
    now = parse_timestamp(args.now, what="--now") if args.now else datetime.now(UTC)
    trace = (
        TraceIntensitySource(args.trace, scope=args.scope, tz=args.trace_tz) if args.trace else None
    )
    points = zone_forecast(
        args.zone,
        now=now,
        horizon_h=parse_horizon_h(args.horizon),
        trace=trace,
        model=args.model,
        provider=open_provider(args.provider, ctx.environ) if args.provider else None,
    )
    manifest = intensity_configmap(
        points,
        zone=points.zone,
        name=args.name,
        namespace=args.namespace,
        now=now,
        immutable=args.immutable,
    )
    text = json.dumps(manifest) + "\n" if args.json else to_yaml([manifest])
    if args.output is None:
        ctx.stdout.write(text)
        ctx.stdout.flush()
    else:
        write_atomic(args.output, text)
    where = "stdout" if args.output is None else plain(str(args.output))
    # The source on stderr too: an offline profile must not pass for live data at a glance.
    print(
        f"lowcarb: ConfigMap {args.namespace}/{args.name} to {where}: "
        f"{manifest['data']['message']}",
        file=ctx.stderr,
    )
    return 0
