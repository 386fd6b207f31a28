"""``python -m territory_core serve``: the routing service (``POST /route``) for a CRM webhook.

    TERRITORY_ROUTE_TOKEN=... python -m territory_core serve --scenario "FY27 plan" --port 8000

Takes the same plan arguments as ``route``. Needs a bearer token in the environment variable
named by ``--token-env`` (default TERRITORY_ROUTE_TOKEN). Exceptions go to the scenario store's
queue unless ``--no-queue``. Exit 2 on bad usage (no token, no plan), 1 when the plan's data
cannot be used.
"""
from __future__ import annotations

import argparse
import os
import sys

HELP = "Serve POST /route (JSON in, owner and reason out) for a CRM webhook, with a bearer token."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .route import add_plan_arguments

    add_plan_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--token-env", default="TERRITORY_ROUTE_TOKEN", metavar="NAME",
                   help="environment variable holding the bearer token (default TERRITORY_ROUTE_TOKEN)")
    p.add_argument("--no-queue", action="store_true", help="do not put exceptions in the scenario store's queue")


def run(args) -> int:
    from ..route.service import create_app
    from .route import Usage, build_router

    token = (os.environ.get(args.token_env) or "").strip()
    if not token:
        print(f"error: set the bearer token in the environment variable {args.token_env} (clients send "
              "'Authorization: Bearer <token>').", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port} is not a port number.", file=sys.stderr)
        return 2
    try:
        router, plan, _ds, store = build_router(args, queue_rules=not args.no_queue)
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rs = None
    if not args.no_queue:
        from ..store.routing import RoutingStore
        from ..store.storage import ScenarioStore

        rs = RoutingStore(store if store is not None else ScenarioStore(args.db))
    app = create_app(router, token=token, routing_store=rs, plan=plan)
    import uvicorn

    print(f"Routing against {router.label} on http://{args.host}:{args.port}/route "
          f"({'exceptions to the queue' if rs else 'no queue'}).", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
