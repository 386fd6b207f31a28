"""Routing in the scenario store: runs, the exceptions queue, decision rules, disputes, rep
unavailability, and the audit log (who, when, what, why) of every decision people make.

Uses the engine, write transactions and migrations of :class:`~territory_core.store.storage.ScenarioStore`
(tables from migration 0004), so it works on SQLite and PostgreSQL alike::

    rs = RoutingStore(ScenarioStore())
    run_id = rs.log_run(result, records, user="ana", source="leads.csv", plan=scenario)
    rs.assign(exception_id, "R004", user="ana", note="Existing customer, same buyer")

A decision on something another person decided first (an exception already assigned, a dispute
already decided) is refused with :class:`RoutingConflict`, never overwritten.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Iterable

import pandas as pd
import sqlalchemy as sa

from .storage import ScenarioStore, StorageError, _json_safe, _utc

meta = sa.MetaData()
run_t = sa.Table(
    "routing_run", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("by", sa.String(300), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("scenario_id", sa.String(64)),
    sa.Column("scenario_version", sa.Integer),
    sa.Column("plan_label", sa.String(400), nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("routed", sa.Integer, nullable=False),
    sa.Column("exceptions", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float),
)
exc_t = sa.Table(
    "routing_exception", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("scenario_id", sa.String(64)),
    sa.Column("scenario_version", sa.Integer),
    sa.Column("record_id", sa.String(300)),
    sa.Column("record_kind", sa.String(16), nullable=False),
    sa.Column("record_json", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("candidates", sa.Text, nullable=False),
    sa.Column("segment", sa.String(200)),
    sa.Column("team", sa.String(400)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rep_id", sa.String(64)),
    sa.Column("decided_by", sa.String(300)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("rule_id", sa.Integer),
)
rule_t = sa.Table(
    "routing_rule", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("value", sa.String(400), nullable=False),
    sa.Column("rep_id", sa.String(64), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("exception_id", sa.Integer),
)
dispute_t = sa.Table(
    "routing_dispute", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(300), nullable=False),
    sa.Column("claimant_rep_id", sa.String(64), nullable=False),
    sa.Column("owner_rep_id", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String(300)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("scenario_id", sa.String(64)),
    sa.Column("scenario_version", sa.Integer),
    sa.Column("applied_scenario_id", sa.String(64)),
    sa.Column("applied_version", sa.Integer),
)
away_t = sa.Table(
    "rep_unavailability", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rep_id", sa.String(64), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
audit_t = sa.Table(
    "routing_audit", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(300), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(300)),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("details_json", sa.Text),
)

EXCEPTION_STATUSES = ("open", "assigned", "ruled", "dismissed")
DISPUTE_STATUSES = ("open", "accepted", "rejected")
QUEUE_COLUMNS = ["id", "created_at", "source", "record_id", "record_kind", "kind", "rule", "reason", "candidates",
                 "segment", "team", "status", "rep_id", "decided_by", "decided_at", "note", "rule_id",
                 "scenario_id", "scenario_version", "run_id", "created_by"]
DISPUTE_COLUMNS = ["id", "account_id", "claimant_rep_id", "owner_rep_id", "reason", "status", "note", "created_by",
                   "created_at", "decided_by", "decided_at", "scenario_id", "scenario_version",
                   "applied_scenario_id", "applied_version"]
AUDIT_COLUMNS = ["id", "at", "who", "action", "subject", "subject_id", "what", "why"]


class RoutingConflict(StorageError):
    """Someone decided this first (message says who and when; nothing was overwritten)."""


class RoutingNotFound(StorageError, LookupError):
    """No exception, rule, dispute or unavailability with that id."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text(v, limit: int | None = None) -> str:
    s = "" if v is None else str(v).strip()
    return s[:limit] if limit else s


def _frame(rows, columns) -> pd.DataFrame:
    df = pd.DataFrame([dict(r._mapping) for r in rows], columns=columns)
    for c in columns:
        if c.endswith("_at") or c == "at":
            df[c] = pd.to_datetime(df[c].map(_utc), utc=True)
    return df


class RoutingStore:
    """The routing tables of a scenario store (one engine, one migration history)."""

    def __init__(self, store: ScenarioStore | None = None, url: str | None = None):
        self.store = store if store is not None else ScenarioStore(url)
        self.engine = self.store.engine

    def _write(self):
        return self.store._write()

    def close(self) -> None:
        self.store.close()

    @staticmethod
    def _audit(conn, who: str, action: str, subject: str, subject_id, what: str, why: str = "",
               details: dict | None = None, at: datetime | None = None) -> None:
        conn.execute(sa.insert(audit_t).values(
            at=at or _now(), who=who, action=action, subject=subject,
            subject_id=None if subject_id is None else str(subject_id), what=what, why=why or "",
            details_json=json.dumps(_json_safe(details), sort_keys=True) if details else None))

    @staticmethod
    def _user(user) -> str:
        from .identity import clean_user

        return clean_user(user)

    # ------------------------------------------------------------------------------- runs
    def log_run(self, result, records: pd.DataFrame | None = None, *, user: str, source: str = "",
                plan=None, queue: bool = True, audit: bool = True) -> int:
        """Record a routing run (counts) and put its exceptions in the queue (when ``queue``).
        An open exception for the same record id is updated rather than repeated. ``records``:
        the routed frame (its rows are kept with the exceptions, so nothing is lost); ``plan``:
        the scenario routed against. Returns the run id."""
        user = self._user(user)
        now = _now()
        sid = getattr(plan, "id", None)
        sver = getattr(plan, "version", None)
        label = getattr(plan, "label", None) or ""
        exc = [d for d in result.decisions if not d.routed]
        rows_by_pos: dict[int, dict] = {}
        if records is not None and exc:
            recs = records.reset_index(drop=True)
            want = {i for i, d in enumerate(result.decisions) if not d.routed}
            for i in want:
                if i < len(recs):
                    rows_by_pos[i] = _json_safe({k: v for k, v in recs.iloc[i].to_dict().items()})
        positions = [i for i, d in enumerate(result.decisions) if not d.routed]
        with self.store._lock, self._write() as conn:
            run_id = conn.execute(sa.insert(run_t).values(
                at=now, by=user, source=_text(source, 300), scenario_id=sid, scenario_version=sver,
                plan_label=label[:400], records=result.total, routed=result.total - len(exc), exceptions=len(exc),
                seconds=float(result.seconds))).inserted_primary_key[0]
            if queue and exc:
                ids = [d.record_id for d in exc if d.record_id]
                open_ids: dict[str, int] = {}
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk:chunk + 500]
                    for r in conn.execute(sa.select(exc_t.c.id, exc_t.c.record_id)
                                          .where(exc_t.c.status == "open", exc_t.c.record_id.in_(part))):
                        open_ids[r.record_id] = r.id
                inserts = []
                for pos, d in zip(positions, exc):
                    values = dict(run_id=run_id, source=_text(source, 300), scenario_id=sid, scenario_version=sver,
                                  record_kind=(rows_by_pos.get(pos) or {}).get("kind") or "record",
                                  record_json=json.dumps(rows_by_pos.get(pos) or {"record_id": d.record_id},
                                                         sort_keys=True),
                                  kind=d.exception, rule=d.rule, reason=d.reason, candidates=";".join(d.candidates),
                                  segment=d.segment or None, team=d.team or None)
                    if d.record_id and d.record_id in open_ids:
                        conn.execute(sa.update(exc_t).where(exc_t.c.id == open_ids[d.record_id]).values(**values))
                    else:
                        inserts.append(dict(values, created_at=now, created_by=user, record_id=d.record_id,
                                            status="open", note=""))
                for chunk in range(0, len(inserts), 1000):
                    conn.execute(sa.insert(exc_t), inserts[chunk:chunk + 1000])
            if audit:
                self._audit(conn, user, "route", "run", run_id,
                            f"Routed {result.total:,} records from {source or 'input'} against {label or 'the plan'}: "
                            f"{result.total - len(exc):,} routed, {len(exc):,} to the queue.", at=now,
                            details={"counts": result.counts()})
        return int(run_id)

    def runs(self, limit: int = 200) -> pd.DataFrame:
        cols = ["id", "at", "by", "source", "plan_label", "records", "routed", "exceptions", "seconds",
                "scenario_id", "scenario_version"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[run_t.c[c] for c in cols]).order_by(run_t.c.id.desc()).limit(limit)).all()
        return _frame(rows, cols)

    # ------------------------------------------------------------------------------- queue
    def queue(self, status: str | Iterable[str] | None = "open", limit: int = 5000) -> pd.DataFrame:
        """Exceptions, newest first (``status``: one status, several, or None for all)."""
        q = sa.select(*[exc_t.c[c] for c in QUEUE_COLUMNS]).order_by(exc_t.c.id.desc()).limit(limit)
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            q = q.where(exc_t.c.status.in_(sts))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return _frame(rows, QUEUE_COLUMNS)

    def exception(self, exc_id: int) -> dict:
        """One exception with its record (``record``: the input row as a dict)."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(exc_t).where(exc_t.c.id == int(exc_id))).first()
        if r is None:
            raise RoutingNotFound(f"No exception #{exc_id} in the queue.")
        d = dict(r._mapping)
        d["record"] = json.loads(d.pop("record_json") or "{}")
        for k in ("created_at", "decided_at"):
            d[k] = _utc(d[k])
        return d

    def _settle(self, conn, exc_id: int, status: str, values: dict, user: str, now: datetime):
        res = conn.execute(sa.update(exc_t).where(exc_t.c.id == int(exc_id), exc_t.c.status == "open")
                           .values(status=status, decided_by=user, decided_at=now, **values))
        if res.rowcount != 1:
            r = conn.execute(sa.select(exc_t.c.status, exc_t.c.decided_by, exc_t.c.decided_at)
                             .where(exc_t.c.id == int(exc_id))).first()
            if r is None:
                raise RoutingNotFound(f"No exception #{exc_id} in the queue.")
            at = _utc(r.decided_at)
            raise RoutingConflict(f"Exception #{exc_id} was already {r.status} by {r.decided_by or 'someone'}"
                                  f"{f' at {at:%Y-%m-%d %H:%M} UTC' if at else ''}; nothing was changed. "
                                  "Reload the queue.")

    def assign(self, exc_id: int, rep_id: str, *, user: str, note: str = "") -> None:
        """Give the record to ``rep_id`` (validate the rep first: :func:`territory_core.route.workflow`)."""
        user, now, rep_id = self._user(user), _now(), _text(rep_id, 64)
        if not rep_id:
            raise ValueError("Choose the rep who takes it.")
        with self.store._lock, self._write() as conn:
            self._settle(conn, exc_id, "assigned", {"rep_id": rep_id, "note": _text(note)}, user, now)
            rid = conn.execute(sa.select(exc_t.c.record_id).where(exc_t.c.id == int(exc_id))).scalar()
            self._audit(conn, user, "assign", "exception", exc_id, f"Record {rid} assigned to {rep_id}.", note, at=now)

    def dismiss(self, exc_id: int, *, user: str, note: str) -> None:
        """Close an exception without an owner (spam, duplicate, test record); the note says why."""
        user, now = self._user(user), _now()
        if not _text(note):
            raise ValueError("Say why it is dismissed (spam, duplicate, test record, ...).")
        with self.store._lock, self._write() as conn:
            self._settle(conn, exc_id, "dismissed", {"note": _text(note)}, user, now)
            rid = conn.execute(sa.select(exc_t.c.record_id).where(exc_t.c.id == int(exc_id))).scalar()
            self._audit(conn, user, "dismiss", "exception", exc_id, f"Record {rid} dismissed.", note, at=now)

    def make_rule(self, exc_id: int, rule, *, user: str) -> int:
        """Turn a queue decision into a :class:`~territory_core.route.router.DecisionRule`: the
        exception goes to the rule's rep and the rule settles records like it from now on.
        Returns the rule id."""
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            rid_ = conn.execute(sa.insert(rule_t).values(
                field=rule.field, value=rule.value[:400], rep_id=rule.rep_id, priority=int(rule.priority),
                note=_text(rule.note), active=True, created_by=user, created_at=now,
                exception_id=int(exc_id))).inserted_primary_key[0]
            self._settle(conn, exc_id, "ruled", {"rep_id": rule.rep_id, "note": _text(rule.note), "rule_id": rid_},
                         user, now)
            rec = conn.execute(sa.select(exc_t.c.record_id).where(exc_t.c.id == int(exc_id))).scalar()
            self._audit(conn, user, "make_rule", "rule", rid_,
                        f"Rule #{rid_}: {rule.field} = {rule.value} goes to {rule.rep_id} (priority {rule.priority}), "
                        f"made from exception #{exc_id} (record {rec}).", rule.note, at=now)
        return int(rid_)

    def add_rule(self, rule, *, user: str) -> int:
        """A decision rule made directly (not from an exception)."""
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            rid_ = conn.execute(sa.insert(rule_t).values(
                field=rule.field, value=rule.value[:400], rep_id=rule.rep_id, priority=int(rule.priority),
                note=_text(rule.note), active=True, created_by=user, created_at=now)).inserted_primary_key[0]
            self._audit(conn, user, "add_rule", "rule", rid_,
                        f"Rule #{rid_}: {rule.field} = {rule.value} goes to {rule.rep_id} (priority {rule.priority}).",
                        rule.note, at=now)
        return int(rid_)

    def rules(self, active_only: bool = True) -> list:
        """The decision rules as :class:`~territory_core.route.router.DecisionRule` objects."""
        from ..route.router import DecisionRule, RoutingError

        out = []
        for r in self.rules_frame(active_only).itertuples():
            try:
                out.append(DecisionRule(r.field, r.value, r.rep_id, int(r.priority), r.note or "", id=int(r.id)))
            except RoutingError:
                continue  # a rule on a field this version no longer knows: listed, not applied
        return out

    def rules_frame(self, active_only: bool = False) -> pd.DataFrame:
        cols = ["id", "field", "value", "rep_id", "priority", "note", "active", "created_by", "created_at", "exception_id"]
        q = sa.select(*[rule_t.c[c] for c in cols]).order_by(rule_t.c.priority, rule_t.c.id)
        if active_only:
            q = q.where(rule_t.c.active.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return _frame(rows, cols)

    def deactivate_rule(self, rule_id: int, *, user: str, note: str = "") -> None:
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            res = conn.execute(sa.update(rule_t).where(rule_t.c.id == int(rule_id), rule_t.c.active.is_(True))
                               .values(active=False))
            if res.rowcount != 1:
                raise RoutingNotFound(f"No active decision rule #{rule_id} (already switched off?).")
            self._audit(conn, user, "deactivate_rule", "rule", rule_id, f"Rule #{rule_id} switched off.", note, at=now)

    # ------------------------------------------------------------------------------- availability
    def add_unavailability(self, rep_id: str, start, end, *, user: str, reason: str = "") -> int:
        from ..route.router import Unavailability

        u = Unavailability(rep_id, start, end, _text(reason))
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            uid = conn.execute(sa.insert(away_t).values(rep_id=u.rep_id, start_date=u.start, end_date=u.end,
                                                        reason=u.reason, created_by=user, created_at=now)
                               ).inserted_primary_key[0]
            self._audit(conn, user, "add_unavailability", "rep", u.rep_id,
                        f"{u.rep_id} unavailable {u.start:%Y-%m-%d} to {u.end:%Y-%m-%d}.", u.reason, at=now)
        return int(uid)

    def remove_unavailability(self, uid: int, *, user: str) -> None:
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            r = conn.execute(sa.select(away_t).where(away_t.c.id == int(uid))).first()
            if r is None:
                raise RoutingNotFound(f"No unavailability #{uid}.")
            conn.execute(sa.delete(away_t).where(away_t.c.id == int(uid)))
            self._audit(conn, user, "remove_unavailability", "rep", r.rep_id,
                        f"{r.rep_id} available again ({r.start_date:%Y-%m-%d} to {r.end_date:%Y-%m-%d} removed).", at=now)

    def unavailability(self) -> list:
        from ..route.router import Unavailability

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(away_t).order_by(away_t.c.start_date, away_t.c.id)).all()
        return [Unavailability(r.rep_id, r.start_date, r.end_date, r.reason or "", id=int(r.id)) for r in rows]

    # ------------------------------------------------------------------------------- disputes
    def claim(self, account_id: str, claimant_rep_id: str, reason: str, *, user: str, owner_rep_id: str | None = None,
              plan=None) -> int:
        """File a rep's claim on an account (validate first: :func:`territory_core.route.workflow.file_claim`).
        One open claim per account and claimant."""
        user, now = self._user(user), _now()
        aid, rep = _text(account_id, 300), _text(claimant_rep_id, 64)
        if not _text(reason):
            raise ValueError("A claim needs a reason: why should this rep own the account?")
        with self.store._lock, self._write() as conn:
            dup = conn.execute(sa.select(dispute_t.c.id).where(
                dispute_t.c.account_id == aid, dispute_t.c.claimant_rep_id == rep, dispute_t.c.status == "open")).first()
            if dup is not None:
                raise RoutingConflict(f"{rep} already has an open claim on {aid} (dispute #{dup.id}); add to it "
                                      "instead of filing it twice.")
            did = conn.execute(sa.insert(dispute_t).values(
                account_id=aid, claimant_rep_id=rep, owner_rep_id=_text(owner_rep_id, 64) or None,
                reason=_text(reason), status="open", note="", created_by=user, created_at=now,
                scenario_id=getattr(plan, "id", None), scenario_version=getattr(plan, "version", None))
            ).inserted_primary_key[0]
            self._audit(conn, user, "claim", "dispute", did,
                        f"{rep} claims {aid} (owner {owner_rep_id or 'none'}).", reason, at=now)
        return int(did)

    def decide(self, dispute_id: int, accept: bool, *, user: str, note: str) -> None:
        """Accept or reject an open claim, with a note (both need one)."""
        user, now = self._user(user), _now()
        if not _text(note):
            raise ValueError("Add a note: the rep reads why their claim was " + ("accepted." if accept else "rejected."))
        status = "accepted" if accept else "rejected"
        with self.store._lock, self._write() as conn:
            res = conn.execute(sa.update(dispute_t).where(dispute_t.c.id == int(dispute_id), dispute_t.c.status == "open")
                               .values(status=status, note=_text(note), decided_by=user, decided_at=now))
            r = conn.execute(sa.select(dispute_t).where(dispute_t.c.id == int(dispute_id))).first()
            if r is None:
                raise RoutingNotFound(f"No dispute #{dispute_id}.")
            if res.rowcount != 1:
                at = _utc(r.decided_at)
                raise RoutingConflict(f"Dispute #{dispute_id} was already {r.status} by {r.decided_by or 'someone'}"
                                      f"{f' at {at:%Y-%m-%d %H:%M} UTC' if at else ''}; nothing was changed.")
            self._audit(conn, user, status[:-2] if status.endswith("ed") else status, "dispute", dispute_id,
                        f"Claim of {r.claimant_rep_id} on {r.account_id} {status}.", note, at=now)

    def disputes(self, status: str | Iterable[str] | None = None) -> pd.DataFrame:
        q = sa.select(*[dispute_t.c[c] for c in DISPUTE_COLUMNS]).order_by(dispute_t.c.id.desc())
        if status is not None:
            q = q.where(dispute_t.c.status.in_([status] if isinstance(status, str) else list(status)))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        df = _frame(rows, DISPUTE_COLUMNS)
        for c in ("scenario_version", "applied_version"):
            df[c] = df[c].astype("Int64")
        return df

    def mark_applied(self, dispute_ids: Iterable[int], scenario_id: str, version: int, *, user: str) -> None:
        """Record that accepted disputes became overrides in ``scenario_id`` version ``version``."""
        ids = [int(i) for i in dispute_ids]
        if not ids:
            return
        user, now = self._user(user), _now()
        with self.store._lock, self._write() as conn:
            conn.execute(sa.update(dispute_t).where(dispute_t.c.id.in_(ids), dispute_t.c.status == "accepted")
                         .values(applied_scenario_id=scenario_id, applied_version=int(version)))
            self._audit(conn, user, "apply_disputes", "scenario", scenario_id,
                        f"{len(ids)} accepted dispute(s) ({', '.join('#' + str(i) for i in ids)}) saved as overrides "
                        f"in version {version}.", at=now)

    # ------------------------------------------------------------------------------- audit and figures
    def audit(self, limit: int = 1000) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[audit_t.c[c] for c in AUDIT_COLUMNS])
                                .order_by(audit_t.c.id.desc()).limit(limit)).all()
        return _frame(rows, AUDIT_COLUMNS)

    def log(self, action: str, subject: str, subject_id, what: str, *, user: str, why: str = "") -> None:
        """An audit entry for a decision taken elsewhere (e.g. a recalibration scenario saved)."""
        with self.store._lock, self._write() as conn:
            self._audit(conn, self._user(user), action, subject, subject_id, what, why)

    def stats(self, since: datetime | date | None = None) -> dict:
        """Routing figures: records, routed, exceptions and exception_rate over the runs since
        ``since`` (all when None); open queue; disputes by status."""
        q = sa.select(sa.func.count(run_t.c.id), sa.func.coalesce(sa.func.sum(run_t.c.records), 0),
                      sa.func.coalesce(sa.func.sum(run_t.c.routed), 0),
                      sa.func.coalesce(sa.func.sum(run_t.c.exceptions), 0))
        if since is not None:
            since = datetime.combine(since, datetime.min.time(), timezone.utc) if not isinstance(since, datetime) else _utc(since)
            q = q.where(run_t.c.at >= since)
        with self.engine.connect() as conn:
            runs, records, routed, exceptions = conn.execute(q).one()
            queue = dict(conn.execute(sa.select(exc_t.c.status, sa.func.count()).group_by(exc_t.c.status)).all())
            disputes = dict(conn.execute(sa.select(dispute_t.c.status, sa.func.count()).group_by(dispute_t.c.status)).all())
        records, exceptions = int(records), int(exceptions)
        return {"runs": int(runs), "records": records, "routed": int(routed), "exceptions": exceptions,
                "exception_rate": exceptions / records if records else None,
                "queue": {s: int(queue.get(s, 0)) for s in EXCEPTION_STATUSES},
                "disputes": {s: int(disputes.get(s, 0)) for s in DISPUTE_STATUSES}}
