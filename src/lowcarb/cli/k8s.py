"""`lowcarb k8s serve NAME --image IMAGE --model PATH`: Kubernetes manifests for the server.

The manifests are built by :mod:`lowcarb.integrations.k8s`; this module parses and prints them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb._files import check_output_path, write_atomic
from lowcarb.cli._common import CliContext, positive_float, positive_int
from lowcarb.integrations.k8s import CarbonAware, Resources, serve_manifests, to_yaml

__all__ = ["register"]


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
        help="generate Kubernetes manifests",
        description="Generate Kubernetes manifests as multi-document YAML.",
    )
    cmds = parser.add_subparsers(dest="k8s_command", metavar="SUBCOMMAND", required=True)
    p = cmds.add_parser(
        "serve",
        help="Deployment, Service and autoscaling for `lowcarb serve`",
        description="Deployment and Service for `lowcarb serve MODEL`, with a KEDA ScaledObject "
        "that scales on the request rate and to zero when idle (or, with --no-keda, a CPU "
        "HorizontalPodAutoscaler; never both on one Deployment), and optionally a "
        "CarbonAwareKedaScaler capping replicas by grid intensity.",
    )
    p.add_argument("name", metavar="NAME", help="name of every object (a DNS-1123 label)")
    p.add_argument("--image", required=True, help="container image built from deploy/Dockerfile")
    p.add_argument("--model", required=True, help="model or cascade file, a path in the image")
    p.add_argument("--namespace", default="default", help="namespace (default: default)")
    p.add_argument("--port", type=positive_int, default=8080, help="server port (default: 8080)")
    p.add_argument(
        "--min-replicas", type=_non_negative_int, default=0, help="0 scales to zero (default: 0)"
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
    p.add_argument("--no-keda", dest="keda", action="store_false", help="a CPU HPA instead of KEDA")
    p.add_argument(
        "--carbon-aware-zone",
        metavar="ZONE",
        help="add a CarbonAwareKedaScaler for this grid zone (needs KEDA)",
    )
    p.add_argument("-o", "--output", type=Path, help="write the YAML here instead of stdout")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output is not None:
        check_output_path(args.output, what="--output")
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
        carbon_aware=CarbonAware(args.carbon_aware_zone) if args.carbon_aware_zone else None,
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
