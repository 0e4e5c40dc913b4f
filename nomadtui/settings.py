"""Connection settings, read the way the `nomad` CLI reads them.

Precedence: command-line flags, then the NOMAD_* environment (plus FABIO_ADDR), then the
chosen cluster of the optional config file (`$XDG_CONFIG_HOME/nomadtui/config.toml`), then
defaults. TLS is verified unless the user turns it off. The token is a `Secret`: it never
appears in a repr, a log line or an error text.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_ADDRESS = "http://127.0.0.1:4646"
DEFAULT_MAX_ANSWER_MB = 256  # the largest answer read from Nomad or Fabio


class SettingsError(ValueError):
    """The settings cannot be used; the message says which one and why."""


class Secret:
    """A value (token, password) that prints as `***` everywhere except `reveal()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class TLS:
    ca_cert: Path | None = None
    ca_path: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None
    skip_verify: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        """The context for httpx: the system's CAs unless a CA file or folder is given."""
        if self.skip_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(
                cafile=str(self.ca_cert) if self.ca_cert else None,
                capath=str(self.ca_path) if self.ca_path else None,
            )
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert:
            ctx.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        return ctx

    def requests_verify(self) -> bool | str:
        """The `verify=` argument for requests (python-nomad): never off by accident."""
        if self.skip_verify:
            return False
        if self.ca_cert:
            return str(self.ca_cert)
        if self.ca_path:
            return str(self.ca_path)
        return True

    def requests_cert(self) -> tuple[str, str] | str | None:
        if self.client_cert and self.client_key:
            return (str(self.client_cert), str(self.client_key))
        return str(self.client_cert) if self.client_cert else None


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    token: Secret | None = None
    namespace: str = "default"
    region: str | None = None
    http_auth: Secret | None = None
    tls: TLS = field(default_factory=TLS)
    fabio_address: str | None = None
    cluster: str | None = None  # the config file's cluster these came from
    read_only: bool = False
    jobs_dir: Path | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_MB * 2**20

    @property
    def is_tls(self) -> bool:
        return self.address.startswith("https://")

    def headers(self) -> dict[str, str]:
        return {"X-Nomad-Token": self.token.reveal()} if self.token else {}

    def basic_auth(self) -> tuple[str, str] | None:
        if not self.http_auth:
            return None
        user, _, password = self.http_auth.reveal().partition(":")
        return (user, password)

    def describe(self, namespace: str | None = None) -> str:
        """One line for the status bar: address and namespace, never the token."""
        where = self.cluster or self.address
        return f"{where} ns={namespace or self.namespace}" + (f" region={self.region}" if self.region else "")


# --- reading ---------------------------------------------------------------------------------

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(text: str, name: str) -> bool:
    """Go's strconv.ParseBool, which the nomad CLI uses for NOMAD_SKIP_VERIFY."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {text!r}")


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("NOMADTUI_CONFIG"):
        return Path(env["NOMADTUI_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "nomadtui" / "config.toml"


def read_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path}: {e}") from None


_ENV = {
    "address": "NOMAD_ADDR",
    "token": "NOMAD_TOKEN",
    "namespace": "NOMAD_NAMESPACE",
    "region": "NOMAD_REGION",
    "http_auth": "NOMAD_HTTP_AUTH",
    "ca_cert": "NOMAD_CACERT",
    "ca_path": "NOMAD_CAPATH",
    "client_cert": "NOMAD_CLIENT_CERT",
    "client_key": "NOMAD_CLIENT_KEY",
    "tls_server_name": "NOMAD_TLS_SERVER_NAME",
    "skip_verify": "NOMAD_SKIP_VERIFY",
    "fabio_address": "FABIO_ADDR",
}


@dataclass(frozen=True)
class _Sources:
    """Where each setting may come from, in order: flags, then the environment, then the chosen
    cluster of the config file."""

    flags: Mapping[str, object]
    env: Mapping[str, str]
    cluster: Mapping[str, object]

    def pick(self, key: str) -> object:
        if key in self.flags:
            return self.flags[key]
        env_name = _ENV.get(key)
        if env_name and self.env.get(env_name):
            return self.env[env_name]
        return self.cluster.get(key)

    def text(self, key: str) -> str | None:
        value = self.pick(key)
        return str(value) if value else None


def load(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
    *,
    clusters: bool = True,
) -> Settings:
    """Settings from flags (None = not given), then the environment, then the config file
    (`clusters=False`: only its keys and preferences, never a cluster's address or token)."""
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    file = read_config(config or config_path(env))
    if not clusters:
        file = {k: v for k, v in file.items() if k not in ("clusters", "default_cluster")}
    name, section = _cluster(given, env, file)
    sources = _Sources(given, env, section)
    token = sources.pick("token")
    if token is None and section.get("token_file"):
        token = _read_secret_file(Path(str(section["token_file"])).expanduser())
    http_auth = sources.pick("http_auth")
    fabio = sources.text("fabio_address")
    return Settings(
        address=_address(sources.text("address") or DEFAULT_ADDRESS),
        token=Secret(str(token)) if token else None,
        namespace=sources.text("namespace") or "default",
        region=sources.text("region"),
        http_auth=Secret(str(http_auth)) if http_auth else None,
        tls=_tls(sources),
        fabio_address=fabio.rstrip("/") if fabio else None,
        cluster=name,
        read_only=bool(given.get("read_only") or section.get("read_only") or file.get("read_only")),
        jobs_dir=_path(sources.pick("jobs_dir")),
        keymap=dict(file.get("keys") or {}),
        max_answer_bytes=_max_answer(section.get("max_answer_mb", file.get("max_answer_mb", DEFAULT_MAX_ANSWER_MB))),
    )


def _cluster(flags: Mapping[str, object], env: Mapping[str, str], file: Mapping) -> tuple[str | None, Mapping]:
    """The config file's cluster to use (flag, NOMADTUI_CLUSTER, default_cluster) and its section."""
    known = file.get("clusters") or {}
    chosen = flags.get("cluster") or env.get("NOMADTUI_CLUSTER") or file.get("default_cluster")
    if not chosen:
        return None, {}
    name = str(chosen)
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise SettingsError(f"no cluster named {name!r} in the config file (known: {names})")
    return name, dict(known[name] or {})


def _address(value: str) -> str:
    address = value.rstrip("/")
    if address.startswith("unix://"):
        raise SettingsError("unix:// addresses are not supported; use http:// or https://")
    if not address.startswith(("http://", "https://")):
        address = "http://" + address
    return address


def _tls(sources: _Sources) -> TLS:
    skip = sources.pick("skip_verify")
    tls = TLS(
        ca_cert=_path(sources.pick("ca_cert")),
        ca_path=_path(sources.pick("ca_path")),
        client_cert=_path(sources.pick("client_cert")),
        client_key=_path(sources.pick("client_key")),
        server_name=sources.text("tls_server_name"),
        skip_verify=parse_bool(skip, "NOMAD_SKIP_VERIFY") if isinstance(skip, str) else bool(skip),
    )
    for label, path in (
        ("CA certificate", tls.ca_cert),
        ("client certificate", tls.client_cert),
        ("client key", tls.client_key),
    ):
        if path is not None and not path.is_file():
            raise SettingsError(f"{label} {path} does not exist")
    if tls.ca_path is not None and not tls.ca_path.is_dir():
        raise SettingsError(f"CA folder {tls.ca_path} does not exist")
    return tls


def _max_answer(megabytes: object) -> int:
    if isinstance(megabytes, bool) or not isinstance(megabytes, (int, float)) or megabytes <= 0:
        raise SettingsError(f"max_answer_mb must be a positive number of megabytes, not {megabytes!r}")
    return int(megabytes * 2**20)


def _path(value: object) -> Path | None:
    return Path(str(value)).expanduser() if value else None


def _read_secret_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as e:
        raise SettingsError(f"cannot read token file {path}: {e.strerror}") from None
