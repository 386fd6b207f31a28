"""The routing service: ``POST /route`` for a CRM webhook (FastAPI).

One JSON object in (a lead or a new account, canonical field names), owner and reason out::

    POST /route   Authorization: Bearer <token>
    {"lead_id": "L1", "company": "Acme Robotics", "email": "ana@acme.com", "zip": "02139", "employees": 1200}
    -> 200 {"record_id": "L1", "routed": true, "rep_id": "R021", "rep_name": "Daniel Scott",
            "team": "East | Enterprise", "rule": "company_name", "reason": "...", "exception": null, ...}

A record no rule decides comes back with ``routed: false``, the exception's kind and reason, and
goes to the exceptions queue (written by a background thread about once a second, never while
a request waits). Bad JSON, a field of the wrong
type or an unknown field: 400 ``{"error": ..., "field": ...}``. No or wrong token: 401. The service
counts what it routed since it started (round robin carries on from request to request).

(No ``from __future__ import annotations`` here: FastAPI reads the live annotations of the
handlers defined inside :func:`create_app`. The body is parsed by hand, so any content type
carrying JSON works, as webhooks send it.)
"""
import contextlib
import hmac
import json
import threading
from typing import Any

TOKEN_ENV = "TERRITORY_ROUTE_TOKEN"
FIELDS = ("lead_id", "account_id", "company", "name", "email", "domain", "website", "zip", "county", "state",
          "country", "employees", "annual_revenue", "industry", "parent_id", "named", "locked", "owner_id",
          "created_at")


def create_app(router, *, token: str, routing_store=None, plan=None, user: str = "routing service"):
    """The FastAPI app routing with ``router``. ``routing_store``: a
    :class:`~territory_core.store.routing.RoutingStore` for the queue and run log (None: not kept)."""
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

    if not token:
        raise ValueError(f"The service needs a bearer token: set {TOKEN_ENV}.")

    class RouteRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
        lead_id: str | int | None = None
        account_id: str | int | None = None
        company: str | None = None
        name: str | None = None
        email: str | None = None
        domain: str | None = None
        website: str | None = None
        zip: str | int | None = None
        county: str | int | None = None
        state: str | None = None
        country: str | None = None
        employees: float | None = None
        annual_revenue: float | None = None
        industry: str | None = None
        parent_id: str | int | None = None
        named: bool | None = None
        locked: bool | None = None
        owner_id: str | None = None
        created_at: str | None = None

        @field_validator("employees", "annual_revenue")
        @classmethod
        def _not_negative(cls, v):
            if v is not None and v < 0:
                raise ValueError("must be 0 or more")
            return v

    router.warm_up()  # the first webhook must not wait for the ZIP table to load
    lock = threading.Lock()
    counts = {"routed": 0, "exceptions": 0}
    log = _Log(routing_store, plan, user) if routing_store is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if log is not None:
            log.start()
        try:
            yield
        finally:
            if log is not None:
                log.stop()

    app = FastAPI(title="Territory Modeler routing", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)

    def _bad(msg: str, fld: str | None) -> JSONResponse:
        return JSONResponse({"error": msg, "field": fld}, status_code=400)

    def _parse(raw: bytes):
        """The request model from the body, or a 400 response naming the field."""
        try:
            data = json.loads(raw or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            return _bad(f"The body is not valid JSON ({exc}).", None)
        if not isinstance(data, dict):
            return _bad("The body must be one JSON object with the record's fields.", None)
        try:
            return RouteRequest.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            fld = ".".join(str(x) for x in err.get("loc", ())) or None
            if err.get("type") == "extra_forbidden":
                return _bad(f"Unknown field {fld!r}; the fields are: {', '.join(FIELDS)}.", fld)
            return _bad(f"Field {fld!r}: {err.get('msg', 'invalid value')} (got {err.get('input')!r}).", fld)

    def _auth(request: Request) -> None:
        from fastapi import HTTPException

        h = request.headers.get("authorization", "")
        scheme, _, given = h.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(status_code=401, detail="Send the routing token as 'Authorization: Bearer <token>'.",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "plan": router.label, **counts}

    @app.post("/route", dependencies=[Depends(_auth)])
    async def route(request: Request):
        body = _parse(await request.body())
        if isinstance(body, JSONResponse):
            return body
        rec = {k: v for k, v in body.model_dump().items() if v is not None}
        for k in ("lead_id", "account_id", "zip", "county", "parent_id"):
            if k in rec:
                rec[k] = str(rec[k])
        if "zip" in rec and rec["zip"].isdigit():
            rec["zip"] = rec["zip"].zfill(5)
        if not rec.get("lead_id") and not rec.get("account_id"):
            return JSONResponse({"error": "Give the record's id: lead_id (a lead) or account_id (a new account).",
                                 "field": "lead_id"}, status_code=400)
        kind = "lead" if rec.get("lead_id") else "account"
        if kind == "lead" and "name" in rec and "company" not in rec:
            rec["company"] = rec["name"]
        with lock:
            d = router.route_one(rec, kind=kind, keep_state=True)
            counts["routed" if d.routed else "exceptions"] += 1
        if log is not None:
            log.add(d, rec, kind)
        out = {"record_id": d.record_id, "routed": d.routed, "rep_id": d.rep_id,
               "rep_name": router.rep_name.get(d.rep_id) if d.rep_id else None, "team": d.team or None,
               "rule": d.rule, "reason": d.reason, "exception": d.exception, "segment": d.segment or None,
               "candidates": list(d.candidates), "queued": log is not None and not d.routed}
        return out

    return app


class _Log:
    """Decisions waiting for the store: a thread writes them every ``every`` seconds as one run
    (its exceptions to the queue), so a request never waits for the database."""

    def __init__(self, rs, plan, user: str, every: float = 1.0):
        self.rs, self.plan, self.user, self.every = rs, plan, user, every
        self._items: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="routing-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.flush()

    def add(self, decision, record: dict, kind: str) -> None:
        from .records import prepare_record

        prepared = prepare_record(record, kind)  # the queue keeps records in one shape, as a batch run does
        with self._lock:
            self._items.append((decision, prepared))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> None:
        import pandas as pd

        from .router import RouteResult

        with self._lock:
            items, self._items = self._items, []
        if not items:
            return
        res = RouteResult(pd.DataFrame(), pd.DataFrame(), tuple(d for d, _ in items), 0.0)
        try:
            self.rs.log_run(res, pd.DataFrame([r for _, r in items]), user=self.user, source="POST /route",
                            plan=self.plan, audit=not all(d.routed for d, _ in items))
        except Exception as exc:  # the store is down: the answers were sent; say so in the server log
            print(f"routing service: could not log {len(items)} decisions to the store: {exc}", flush=True)
