"""Who may do what: roles from a small TOML file, and the part of the data a manager may see.

The roles file (``TERRITORY_ROLES``, else ``.streamlit/roles.toml`` next to the app) maps users,
as :func:`territory_core.store.identity.current_user` names them (the signed-in e-mail), to a role::

    default = "viewer"                 # anyone not listed below (viewer when left out)

    [users]
    "ana@example.com" = "admin"
    "ben@example.com" = "planner"
    "vic@example.com" = "viewer"
    "dana@example.com" = { role = "manager", manager = "Jennifer Gonzalez" }

- ``viewer``: sees every page; cannot save scenarios or export owner (CRM assignment) files.
- ``planner``: saves scenarios and exports owner files.
- ``admin``: the same rights as a planner in the app today.
- ``manager``: a planner who sees only their team: the reps whose ``manager`` column equals the
  ``manager`` value, and the accounts those reps own (with their opportunities and products).

Without a roles file everyone is a planner. A roles file that cannot be read is an error
(:class:`RolesError`), never "everyone may do everything".
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..contract import A, O, P, R, S
from ..frames import isin

ENV_ROLES = "TERRITORY_ROLES"
DEFAULT_ROLES_FILE = Path(".streamlit") / "roles.toml"
ROLES = ("viewer", "planner", "admin", "manager")
_RIGHTS = {
    "viewer": frozenset(),
    "planner": frozenset({"save", "export"}),
    "admin": frozenset({"save", "export"}),
    "manager": frozenset({"save", "export"}),
}
_ACTIONS = {"save": "save scenarios", "export": "export owner files"}


class RolesError(ValueError):
    """The roles file cannot be used (the message says which file, what is wrong and how to fix it)."""


class PermissionDenied(PermissionError):
    """The user's role does not allow this action (the message names the role and who can)."""


@dataclass(frozen=True)
class Access:
    """A user's role for this session. ``manager`` is the team filter of the manager role."""

    user: str
    role: str = "planner"
    manager: str | None = None
    source: str = "no roles file: everyone is a planner"

    @property
    def can_save(self) -> bool:
        return "save" in _RIGHTS.get(self.role, frozenset())

    @property
    def can_export(self) -> bool:
        return "export" in _RIGHTS.get(self.role, frozenset())

    @property
    def team_only(self) -> bool:
        return self.role == "manager"

    def refusal(self, action: str) -> str | None:
        """Why this user may not do ``action`` ("save" or "export"), or None when they may."""
        if action in _RIGHTS.get(self.role, frozenset()):
            return None
        what = _ACTIONS.get(action, action)
        return (f"{self.user} has the {self.role} role ({self.source}), which cannot {what}. A planner, "
                "manager or admin can: ask whoever keeps the roles file to change your role.")

    def require(self, action: str) -> None:
        """Raise :class:`PermissionDenied` unless the role allows ``action``."""
        why = self.refusal(action)
        if why:
            raise PermissionDenied(why)


@dataclass(frozen=True)
class RolesConfig:
    """A parsed roles file: ``users`` maps a case-folded user name to (role, manager value)."""

    users: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    default_role: str = "viewer"
    path: str = ""


def _role_entry(path: str, user: str, value) -> tuple[str, str | None]:
    where = f"{path}: user {user!r}"
    if isinstance(value, str):
        role, manager = value.strip().lower(), None
    elif isinstance(value, Mapping):
        unknown = set(value) - {"role", "manager"}
        if unknown:
            raise RolesError(f"{where} has unknown keys {sorted(unknown)}; use role = \"...\" and, for a "
                             "manager, manager = \"<value of the reps' manager column>\".")
        role = str(value.get("role", "")).strip().lower()
        manager = value.get("manager")
        manager = str(manager).strip() if manager is not None else None
    else:
        raise RolesError(f"{where}: write a role name (\"planner\") or a table "
                         "{ role = \"manager\", manager = \"...\" }.")
    if role not in ROLES:
        raise RolesError(f"{where} has role {role!r}; use one of {', '.join(ROLES)}.")
    if role == "manager" and not manager:
        raise RolesError(f"{where} is a manager without a manager value: write "
                         "{ role = \"manager\", manager = \"<their name in the reps' manager column>\" }.")
    if role != "manager" and manager:
        raise RolesError(f"{where} has a manager value but the role {role!r}; only role = \"manager\" takes one.")
    return role, manager


def parse_roles(text: str, path: str = "roles.toml") -> RolesConfig:
    """Parse the TOML text of a roles file (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RolesError(f"{path} is not valid TOML ({exc}). Fix the line named, e.g. "
                         "\"ana@example.com\" = \"planner\" under [users].") from None
    unknown = set(data) - {"default", "users"}
    if unknown:
        raise RolesError(f"{path} has unknown top-level keys {sorted(unknown)}; use default = \"viewer\" and a "
                         "[users] table.")
    default = str(data.get("default", "viewer")).strip().lower()
    if default not in ("viewer", "planner", "admin"):
        raise RolesError(f"{path}: default = {default!r}; use viewer, planner or admin (a manager needs a "
                         "manager value, so list managers one by one under [users]).")
    users_raw = data.get("users", {})
    if not isinstance(users_raw, Mapping):
        raise RolesError(f"{path}: users must be a table: [users] then one \"name\" = \"role\" a line.")
    users: dict[str, tuple[str, str | None]] = {}
    for user, value in users_raw.items():
        key = str(user).strip().casefold()
        if not key:
            raise RolesError(f"{path}: a user name under [users] is empty.")
        if key in users:
            raise RolesError(f"{path}: user {user!r} is listed twice (names are matched ignoring case).")
        users[key] = _role_entry(path, str(user), value)
    return RolesConfig(users=users, default_role=default, path=path)


def load_roles(path: str | Path) -> RolesConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RolesError(f"The roles file {p} does not exist. Create it, or unset {ENV_ROLES} to use "
                         f"{DEFAULT_ROLES_FILE} (or no roles: everyone a planner).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RolesError(f"The roles file {p} cannot be read ({exc}).") from None
    return parse_roles(text, str(p))


def roles_path(root: str | Path = ".", env: Mapping[str, str] | None = None) -> Path | None:
    """The roles file in force: ``TERRITORY_ROLES`` (which must exist), else ``.streamlit/roles.toml``
    under ``root`` when it exists, else None (no roles: everyone is a planner)."""
    env = os.environ if env is None else env
    named = (env.get(ENV_ROLES) or "").strip()
    if named:
        return Path(named)
    p = Path(root) / DEFAULT_ROLES_FILE
    return p if p.is_file() else None


def resolve_access(user: str, config: RolesConfig | None) -> Access:
    """The role of ``user``: from ``config`` (matched ignoring case), its default for anyone not
    listed; a planner when there is no roles file."""
    if config is None:
        return Access(user=user)
    entry = config.users.get(str(user).strip().casefold())
    if entry is None:
        return Access(user=user, role=config.default_role, source="not listed in the roles file: its default")
    role, manager = entry
    return Access(user=user, role=role, manager=manager, source="as listed in the roles file")


# --------------------------------------------------------------------------------------------
# The manager's view of the data
# --------------------------------------------------------------------------------------------

def _norm(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.casefold()


def team_rep_ids(reps: pd.DataFrame, manager: str) -> set[str]:
    """Rep ids whose ``manager`` column equals ``manager`` (ignoring case and outer spaces)."""
    if R.manager not in reps.columns or not len(reps):
        return set()
    mask = (_norm(reps[R.manager]) == str(manager).strip().casefold()).fillna(False).to_numpy()
    return set(reps.loc[mask, R.rep_id].astype(str))


def filter_dataset(ds, access: Access):
    """The dataset this user may see: unchanged for every role but manager; for a manager, their
    team's reps, the accounts those reps own, and those accounts' opportunities, products and
    distances. The name says whose team it is (so no cache shares it with the full dataset)."""
    if not access.team_only:
        return ds
    reps = ds.reps
    team = team_rep_ids(reps, access.manager or "")
    reps_f = reps[reps[R.rep_id].astype(str).isin(team).to_numpy()].reset_index(drop=True)
    acc = ds.accounts
    owned = acc[A.owner_id].astype("string").isin(team).fillna(False).to_numpy() if A.owner_id in acc.columns \
        else pd.Series(False, index=acc.index).to_numpy()
    acc_f = acc[owned].reset_index(drop=True)
    keep = set(acc_f[A.account_id].astype(str))

    def by_account(df, col):
        if df is None or not len(df) or col not in df.columns:
            return df
        return df[df[col].astype(str).isin(keep).to_numpy()].reset_index(drop=True)

    dist = ds.distances
    if dist is not None and len(dist) and R.rep_id in dist.columns:
        dist = by_account(dist, A.account_id)
        dist = dist[dist[R.rep_id].astype(str).isin(team).to_numpy()].reset_index(drop=True)
    who = str(reps_f[R.manager].iloc[0]) if len(reps_f) else str(access.manager or "").strip()
    return ds.with_(
        accounts=acc_f, reps=reps_f, opportunities=by_account(ds.opportunities, O.account_id),
        account_products=by_account(ds.account_products, P.account_id), distances=dist,
        name=f"{ds.name} · team of {who}")


def restrict_scenario(scenario, ds):
    """A stored scenario cut to what ``ds`` holds: the assignment's rows for its accounts, and the
    solver report's per-rep rows for its reps (and the scenario's own new hires). Unchanged when
    nothing is outside ``ds``."""
    if scenario is None:
        return scenario
    changes = {}
    asg = scenario.assignment
    if asg is not None and len(asg):
        ids = set(ds.accounts[A.account_id].astype(str))
        inside = isin(asg[S.account_id].astype(str), ids)
        if not inside.all():
            changes["assignment"] = asg[inside].reset_index(drop=True)
    rep_rows = (scenario.report or {}).get("reps")
    if rep_rows:
        reps = set(ds.reps[R.rep_id].astype(str)) | {
            str(e.get("rep_id")) for e in scenario.events if e.get("type") == "new_hire"}
        kept = [r for r in rep_rows if str(r.get("rep_id")) in reps]
        if len(kept) != len(rep_rows):
            changes["report"] = {**scenario.report, "reps": kept}
    return scenario.with_(**changes) if changes else scenario
