"""Environment variables parsed and validated into one typed configuration."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from kernels.core.streams import DEFAULT_OUTPUT_LIMIT, MAX_OUTPUT_LIMIT, MIN_OUTPUT_LIMIT

REPO_ROOT = Path(__file__).resolve().parents[2]

MODES = ("embedded", "production")
KERNEL_HOSTS = ("inprocess", "celery")
SANDBOXES = ("process", "bwrap")
# What a kernel whose quota allows network gets: a namespace of its own with outbound access only (kernels/netns.py),
# or the host's, loopback services included (a Spark cluster in client mode must reach the driver back).
KERNEL_NETWORKS = ("isolated", "host")


@dataclass(frozen=True)
class Rate:
    """At most `count` in a window of `window_s` seconds (the window starts at the first one)."""

    count: int
    window_s: int


# The one definition of every rate limit (quire.lib.ratelimit counts them); QUIRE_RATE_LIMITS overrides any.
RATE_LIMITS = {
    # Failed sign-ins (login page and Django admin) per account, then per client address: past either, even the
    # right password is refused until the window ends. An address may hold several people (NAT), hence more.
    "sign_in_account": Rate(10, 15 * 60),
    "sign_in_address": Rate(50, 15 * 60),
    # Unknown or revoked API tokens per client address (REST and WebSocket); past it, tokens from there are
    # refused unread.
    "bad_token_address": Rate(30, 15 * 60),
    # REST requests per signed-in caller, and per address for callers not signed in.
    "api_user": Rate(240, 60),
    "api_anonymous": Rate(120, 60),
    # Shares naming a user or team that does not exist, per caller: guessing names is slow.
    "share_unknown_grantee": Rate(20, 60 * 60),
}
_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Config:
    """Everything the settings module needs, already checked."""

    mode: str
    debug: bool
    secret_key: str
    var_dir: Path
    database: dict[str, object]
    redis_url: str | None
    allowed_hosts: list[str]
    kernel_host: str
    sandbox: str
    secure_cookies: bool
    trusted_origins: list[str]
    rate_limits: dict[str, Rate]
    hsts_seconds: int
    # Folders a notebook's file:// repositories and jar URLs may point into (kernels/config.py SourcePolicy).
    file_repository_roots: tuple[Path, ...] = ()
    # Folders every kernel reads at their own paths, read-only (shared data sets): QUIRE_DATA_ROOTS.
    data_roots: tuple[Path, ...] = ()
    # Whether requirements may name their own source (`pkg @ https://…`) rather than come from an index.
    allow_direct_references: bool = False
    kernel_network: str = "isolated"
    # What one cell run keeps of its printed output (kernels/core/streams.py); past it, a notice of what was kept.
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    # Where kernel hosts listen for the servers' direct lines (kernels/direct.py), and the address they give
    # servers for it (the bind address unless set: a worker machine's own address when servers run elsewhere).
    direct_bind: str = "127.0.0.1"
    direct_advertise: str = ""

    @property
    def redis_namespace(self) -> str:
        """The Redis database number: what keeps two installations sharing one Redis server apart."""
        if not self.redis_url:
            return "0"
        parts = urlsplit(self.redis_url)
        db = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
        return db if db.isdigit() else "0"


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], *, default: str) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def parse_file_roots(raw: str, *, var_dir: Path, name: str = "QUIRE_FILE_REPOSITORY_ROOTS") -> tuple[Path, ...]:
    """QUIRE_FILE_REPOSITORY_ROOTS (or QUIRE_DATA_ROOTS): absolute folders, colon-separated, none of them holding or
    inside the folder kernels write to (a root there would let a cell plant a package or a link for a build to pick
    up, or change shared data)."""
    roots: list[Path] = []
    for entry in (part.strip() for part in raw.split(":")):
        if not entry:
            continue
        path = Path(entry)
        if not path.is_absolute():
            raise ImproperlyConfigured(f"{name}: {entry!r} is not an absolute path")
        resolved = path.resolve()
        if not resolved.is_dir():
            raise ImproperlyConfigured(f"{name}: {entry!r} is not a folder")
        if resolved.is_relative_to(var_dir) or var_dir.is_relative_to(resolved):
            raise ImproperlyConfigured(
                f"{name}: {entry!r} overlaps QUIRE_VAR_DIR ({var_dir}), which kernels write to"
            )
        roots.append(resolved)
    return tuple(roots)


def _seconds(env: Mapping[str, str], name: str, *, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ImproperlyConfigured(f"{name} must be a whole number of seconds, not {raw!r}")
    return int(raw)


def _output_limit(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return DEFAULT_OUTPUT_LIMIT
    if not raw.isdigit() or not MIN_OUTPUT_LIMIT <= int(raw) <= MAX_OUTPUT_LIMIT:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of bytes from {MIN_OUTPUT_LIMIT} to {MAX_OUTPUT_LIMIT}, not {raw!r}"
        )
    return int(raw)


def _origins(env: Mapping[str, str], name: str) -> list[str]:
    """Comma-separated origins, each exactly scheme://host[:port] with http or https: no path, no wildcard."""
    origins = []
    for raw in (env.get(name) or "").split(","):
        origin = raw.strip()
        if not origin:
            continue
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {origin!r} is not an origin") from exc
        if (
            parts.scheme not in ("http", "https") or not parts.hostname or "*" in origin
            or parts.path or parts.query or parts.fragment or parts.username
        ):
            raise ImproperlyConfigured(
                f"{name} takes origins like https://notebooks.example.com or http://host:8000, not {origin!r}"
            )
        origins.append(origin.lower())
    return origins


def parse_rate(text: str) -> Rate:
    """'10/15m' -> Rate(10, 900): a count, a slash, a window with unit s, m, h or d."""
    match = _RATE.match(text.strip())
    if match is None or int(match[1]) < 1 or match[2] == "0":
        raise ValueError(f"a rate looks like 10/15m or 240/1m (count/window, unit s m h d), not {text!r}")
    return Rate(count=int(match[1]), window_s=int(match[2] or 1) * _UNIT_S[match[3]])


def _rate_limits(env: Mapping[str, str], name: str) -> dict[str, Rate]:
    """The defaults above, with overrides like "api_user=600/1m,sign_in_account=5/15m"."""
    rates = dict(RATE_LIMITS)
    for item in (env.get(name) or "").split(","):
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in RATE_LIMITS:
            raise ImproperlyConfigured(f"{name}: no rate limit {key!r}; there are {', '.join(RATE_LIMITS)}")
        try:
            rates[key] = parse_rate(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {key}: {exc}") from exc
    return rates


# How long a write waits for another process's write to the same SQLite file (a `manage.py` command beside
# the server); the server's own writers queue on one lock instead (quire.lib.sqlite) and never reach it.
SQLITE_BUSY_TIMEOUT_S = 30.0


def sqlite_database(path: str) -> dict[str, object]:
    """The DATABASES entry of an SQLite file: WAL (readers never wait for the writer), BEGIN IMMEDIATE (a
    transaction takes the write lock before it reads, never upgrades midway) and one ordered writer."""
    return {
        "ENGINE": "quire.lib.sqlite",
        "NAME": path,
        # A connection per thread, kept: closing the last one to a WAL file checkpoints and removes the WAL,
        # which each database call from a consumer (Channels closes connections past their age) would pay.
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_S,
        },
    }


def parse_database_url(url: str) -> dict[str, object]:
    """Turn postgres://user:pass@host:port/name (or sqlite:///path) into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL names no database: {url!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL has a bad port: {url!r}") from exc
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            # Opening a connection costs 3-8 ms: keep them for a minute, checked before reuse.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        # sqlite:////abs/path.db is absolute, sqlite:///rel.db relative (the usual database-URL convention).
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured(f"DATABASE_URL names no SQLite file: {url!r}")
        return sqlite_database(path)
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with postgres:// or sqlite:///, not {parts.scheme or url!r}"
    )


def _address(env: Mapping[str, str], name: str, *, default: str) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", raw):
            raise ImproperlyConfigured(f"{name} must be an IP address or a host name, not {raw!r}") from None
    return raw


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read the environment; raise ImproperlyConfigured with a clear message on any bad value."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL") or None
    redis_url = env.get("REDIS_URL") or None
    default_mode = "production" if (database_url or redis_url) else "embedded"
    mode = _choice(env, "QUIRE_MODE", MODES, default=default_mode)
    var_dir = Path(env.get("QUIRE_VAR_DIR") or REPO_ROOT / "var").resolve()

    if mode == "production":
        if not database_url:
            raise ImproperlyConfigured("production mode needs DATABASE_URL (postgres://...)")
        if not redis_url:
            raise ImproperlyConfigured("production mode needs REDIS_URL (redis://...)")
        secret_key = env.get("SECRET_KEY") or ""
        if len(secret_key) < 16:
            raise ImproperlyConfigured("production mode needs SECRET_KEY of at least 16 characters")
        debug = _flag(env, "QUIRE_DEBUG", default=False)
        kernel_host = _choice(env, "QUIRE_KERNEL_HOST", KERNEL_HOSTS, default="celery")
    else:
        secret_key = env.get("SECRET_KEY") or "embedded-mode-local-only-secret-key"
        debug = _flag(env, "QUIRE_DEBUG", default=False)
        kernel_host = _choice(env, "QUIRE_KERNEL_HOST", KERNEL_HOSTS, default="inprocess")

    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {redis_url!r}")
    if kernel_host == "celery" and not redis_url:
        raise ImproperlyConfigured("QUIRE_KERNEL_HOST=celery needs REDIS_URL")

    database = parse_database_url(database_url or f"sqlite:///{var_dir / 'quire.sqlite3'}")
    hosts_raw = env.get("ALLOWED_HOSTS") or ("*" if mode == "embedded" else "localhost,127.0.0.1")
    allowed_hosts = [h.strip() for h in hosts_raw.split(",") if h.strip()]
    default_sandbox = "bwrap" if shutil.which("bwrap") else "process"
    sandbox = _choice(env, "QUIRE_KERNEL_SANDBOX", SANDBOXES, default=default_sandbox)
    if sandbox == "bwrap" and not shutil.which("bwrap"):
        raise ImproperlyConfigured("QUIRE_KERNEL_SANDBOX=bwrap but bubblewrap (bwrap) is not installed")
    secure_cookies = _flag(env, "QUIRE_SECURE_COOKIES", default=mode == "production" and not debug)
    return Config(
        mode=mode,
        debug=debug,
        secret_key=secret_key,
        var_dir=var_dir,
        database=database,
        redis_url=redis_url,
        allowed_hosts=allowed_hosts,
        kernel_host=kernel_host,
        sandbox=sandbox,
        secure_cookies=secure_cookies,
        trusted_origins=_origins(env, "QUIRE_TRUSTED_ORIGINS"),
        rate_limits=_rate_limits(env, "QUIRE_RATE_LIMITS"),
        # A year of HSTS once the site is HTTPS-only (secure cookies); 0 turns it off.
        hsts_seconds=_seconds(env, "QUIRE_HSTS_SECONDS", default=365 * 24 * 3600 if secure_cookies else 0),
        file_repository_roots=parse_file_roots(env.get("QUIRE_FILE_REPOSITORY_ROOTS") or "", var_dir=var_dir),
        data_roots=parse_file_roots(env.get("QUIRE_DATA_ROOTS") or "", var_dir=var_dir, name="QUIRE_DATA_ROOTS"),
        allow_direct_references=_flag(env, "QUIRE_ALLOW_DIRECT_REFERENCES", default=False),
        kernel_network=_choice(env, "QUIRE_KERNEL_NETWORK", KERNEL_NETWORKS, default="isolated"),
        output_limit=_output_limit(env, "QUIRE_OUTPUT_LIMIT_BYTES"),
        direct_bind=_address(env, "QUIRE_DIRECT_BIND", default="127.0.0.1"),
        direct_advertise=_address(env, "QUIRE_DIRECT_ADVERTISE", default=""),
    )
