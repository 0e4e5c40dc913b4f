"""Connection settings, read the way the `nomad` CLI reads them.

Precedence: command-line flags, then the NOMAD_* environment (plus FABIO_ADDR), then the
chosen cluster of the optional config file (`$XDG_CONFIG_HOME/nomadtui/config.toml`), then
defaults. TLS is verified unless the user turns it off. The token is a `Secret`: it never
appears in a repr, a log line or an error text.
"""

from __future__ import annotations

import ipaddress
import os
import re
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
        """One line for the status bar: address and namespace, never the token (nor a password
        written into the address)."""
        where = self.cluster or redacted(self.address)
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


_FLAGS = {"address": "--addr", "fabio_address": "--fabio-addr", "jobs_dir": "--jobs-dir"}


@dataclass(frozen=True)
class _Sources:
    """Where each setting may come from, in order: flags, then the environment, then the chosen
    cluster of the config file."""

    flags: Mapping[str, object]
    env: Mapping[str, str]
    cluster: Mapping[str, object]
    cluster_name: str | None = None
    config: Path | None = None

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

    def origin(self, key: str) -> str:
        """Where `pick(key)` found its value, in the words the user wrote it with."""
        if key in self.flags:
            return _FLAGS.get(key, key)
        env_name = _ENV.get(key)
        if env_name and self.env.get(env_name):
            return env_name
        return f"{key} in [clusters.{self.cluster_name}] of {self.config}"

    def address(self, key: str) -> str | None:
        """An address setting, checked (`check_address`), or None when not set."""
        value = self.pick(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise SettingsError(f"{self.origin(key)} is {value!r}, not a string")
        return check_address(value, self.origin(key))

    def folder(self, key: str) -> Path | None:
        """A folder setting that must exist and be a folder, or None when not set."""
        value = self.pick(key)
        if value is None or value == "":
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{self.origin(key)} is {value!r}, not a string")
        return check_folder(value, self.origin(key))


def check_folder(value: str | os.PathLike, origin: str) -> Path:
    """The folder `value` names, or a SettingsError naming `origin` when it is none."""
    path = Path(value).expanduser()
    if not path.exists():
        raise SettingsError(f"{origin} is {str(path)!r}, which does not exist")
    if not path.is_dir():
        raise SettingsError(f"{origin} is {str(path)!r}, which is not a folder")
    return path


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
    sources = _Sources(given, env, section, name, config or config_path(env))
    token = sources.pick("token")
    if token is None and section.get("token_file"):
        token = _read_secret_file(Path(str(section["token_file"])).expanduser())
    http_auth = sources.pick("http_auth")
    return Settings(
        address=sources.address("address") or DEFAULT_ADDRESS,
        token=Secret(str(token)) if token else None,
        namespace=sources.text("namespace") or "default",
        region=sources.text("region"),
        http_auth=Secret(str(http_auth)) if http_auth else None,
        tls=_tls(sources),
        fabio_address=sources.address("fabio_address"),
        cluster=name,
        read_only=bool(given.get("read_only") or section.get("read_only") or file.get("read_only")),
        jobs_dir=sources.folder("jobs_dir"),
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


# --- addresses ---------------------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_PASSWORD = re.compile(r"((?:^|//)[^/?#@:]*:)[^/?#]*@")
_BAD_HOST = re.compile(r"[\s\x00-\x1f\x7f/?#@\[\]\\<>\"{}|^`]")


def redacted(address: str) -> str:
    """`address` with the password of a `user:password@` part replaced by `***`."""
    return _PASSWORD.sub(r"\1***@", address)


def check_address(value: str, origin: str, *, keep_path: bool = False) -> str:
    """An http:// or https:// address as the nomad CLI takes it (a bare `host:port` gets
    http://; the scheme is lower-cased; a trailing `/` goes unless `keep_path`), or a
    SettingsError naming `value` and `origin` (the flag, variable or config-file key it came
    from)."""
    address = value.strip()
    shown = repr(redacted(value))
    scheme = _SCHEME.match(address)
    if scheme is None:
        if "://" in address:
            raise SettingsError(f"{origin} is {shown}, not an address: it has no scheme before ://")
        address = "http://" + address
    else:
        name = scheme.group(1).lower()
        if name == "unix":
            raise SettingsError(
                f"{origin} is {shown}, a unix:// socket, which nomadtui does not support: "
                "use an http:// or https:// address"
            )
        if name not in ("http", "https"):
            raise SettingsError(f"{origin} is {shown}, not an http:// or https:// address (its scheme is {name})")
        address = name + address[len(name) :]
    problem = _authority_problem(address.split("://", 1)[1])
    if problem:
        raise SettingsError(f"{origin} is {shown}, not a valid address: {problem}")
    return address if keep_path else address.rstrip("/")


def _authority_problem(rest: str) -> str | None:
    """What is wrong with the `[user@]host[:port]` at the start of `rest`, or None."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return "the IPv6 address has no closing ]"
        host, after = hostport[1:end], hostport[end + 1 :]
        if after and not after.startswith(":"):
            return f"{after!r} follows the IPv6 address ] where only :port may"
        port = after[1:] if after else None
        try:
            ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            return f"{host!r} in brackets is not an IPv6 address"
    else:
        if hostport.count(":") > 1:
            return "an IPv6 address must be written in brackets, as http://[::1]:4646"
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
        if not host:
            return "it has no host"
        bad = _BAD_HOST.search(host)
        if bad:
            return f"the host {host!r} cannot contain {bad.group()!r}"
    return _port_problem(port)


def _port_problem(port: str | None) -> str | None:
    if not port:  # none, or empty after the colon (the scheme's default port, as Go reads it)
        return None
    if not (port.isascii() and port.isdigit()):
        return f"the port {port!r} is not a number"
    if not 0 < int(port) < 65536:
        return f"the port {port} is not between 1 and 65535"
    return None


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
