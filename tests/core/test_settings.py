"""Settings come from flags, then the environment the nomad CLI reads, then the config file;
TLS is verified unless turned off; the token never shows."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from nomadtui.nomad.pyclient import python_nomad
from nomadtui.settings import Secret, Settings, SettingsError, load


def test_defaults_match_the_nomad_cli(tmp_path):
    s = load({}, env={}, config=tmp_path / "none.toml")
    assert s.address == "http://127.0.0.1:4646" and s.namespace == "default"
    assert s.token is None and s.region is None and s.fabio_address is None
    assert s.tls.skip_verify is False


def test_environment_then_flags(tmp_path):
    env = {
        "NOMAD_ADDR": "https://nomad.example:4646/",
        "NOMAD_TOKEN": "s3cr3t-token",
        "NOMAD_NAMESPACE": "apps",
        "NOMAD_REGION": "eu",
        "FABIO_ADDR": "http://fabio:9998",
        "NOMAD_HTTP_AUTH": "ops:pw",
    }
    s = load({}, env=env, config=tmp_path / "none.toml")
    assert s.address == "https://nomad.example:4646" and s.namespace == "apps" and s.region == "eu"
    assert s.token.reveal() == "s3cr3t-token" and s.headers() == {"X-Nomad-Token": "s3cr3t-token"}
    assert s.basic_auth() == ("ops", "pw") and s.fabio_address == "http://fabio:9998"
    s = load({"namespace": "web", "address": "http://other:4646"}, env=env, config=tmp_path / "none.toml")
    assert (s.namespace, s.address, s.token.reveal()) == ("web", "http://other:4646", "s3cr3t-token")


def test_config_file_clusters(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    config = tmp_path / "config.toml"
    config.write_text(f'''
default_cluster = "staging"
[clusters.staging]
address = "http://staging:4646"
namespace = "web"
fabio_address = "http://staging-fabio:9998"
[clusters.prod]
address = "https://prod:4646"
token_file = "{token_file}"
read_only = true
[keys]
promote = "P"
''')
    s = load({}, env={}, config=config)
    assert (s.cluster, s.address, s.namespace, s.fabio_address) == (
        "staging",
        "http://staging:4646",
        "web",
        "http://staging-fabio:9998",
    )
    assert s.keymap == {"promote": "P"}
    s = load({"cluster": "prod"}, env={}, config=config)
    assert s.token.reveal() == "from-file" and s.read_only is True
    s = load({"cluster": "prod"}, env={"NOMAD_ADDR": "http://env:4646"}, config=config)
    assert s.address == "http://env:4646"  # the environment beats the file
    with pytest.raises(SettingsError, match="no cluster named 'qa'"):
        load({"cluster": "qa"}, env={}, config=config)


def test_config_file_errors_are_clear(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[clusters\n")
    with pytest.raises(SettingsError, match="config.toml"):
        load({}, env={}, config=config)


def test_tls_is_verified_unless_turned_off(tmp_path):
    s = load({}, env={"NOMAD_ADDR": "https://nomad:4646"}, config=tmp_path / "x.toml")
    assert s.tls.ssl_context().verify_mode == ssl.CERT_REQUIRED and s.tls.ssl_context().check_hostname
    client = python_nomad(s)
    assert client.job.verify is True  # python-nomad's own default is False
    s = load({}, env={"NOMAD_ADDR": "https://nomad:4646", "NOMAD_SKIP_VERIFY": "true"}, config=tmp_path / "x.toml")
    assert s.tls.ssl_context().verify_mode == ssl.CERT_NONE and python_nomad(s).job.verify is False
    with pytest.raises(SettingsError, match="NOMAD_SKIP_VERIFY"):
        load({}, env={"NOMAD_SKIP_VERIFY": "yes please"}, config=tmp_path / "x.toml")


def test_ca_files_are_checked_and_used(tmp_path):
    with pytest.raises(SettingsError, match="CA certificate .* does not exist"):
        load({}, env={"NOMAD_CACERT": str(tmp_path / "missing.pem")}, config=tmp_path / "x.toml")
    ca = tmp_path / "ca.pem"
    ca.write_text("not a real certificate")
    s = load(
        {},
        env={"NOMAD_CACERT": str(ca), "NOMAD_ADDR": "https://n:4646", "NOMAD_TLS_SERVER_NAME": "server.global.nomad"},
        config=tmp_path / "x.toml",
    )
    assert s.tls.requests_verify() == str(ca) and s.tls.server_name == "server.global.nomad"
    assert python_nomad(s).job.verify == str(ca)


def test_the_token_never_shows(tmp_path):
    s = load(
        {}, env={"NOMAD_TOKEN": "b9f7c1a2-super-secret", "NOMAD_HTTP_AUTH": "u:hunter2"}, config=tmp_path / "x.toml"
    )
    for text in (repr(s), str(s), s.describe(), repr(s.token), f"{s.token}", repr(s.http_auth)):
        assert "b9f7c1a2" not in text and "hunter2" not in text
    assert Secret("x") == Secret("x") and not Secret("")


def test_unix_sockets_are_refused_clearly(tmp_path):
    with pytest.raises(SettingsError, match="unix://"):
        load({}, env={"NOMAD_ADDR": "unix:///var/run/nomad.sock"}, config=tmp_path / "x.toml")


def test_a_bare_host_gets_http(tmp_path):
    assert load({"address": "10.0.0.5:4646"}, env={}, config=tmp_path / "x.toml").address == "http://10.0.0.5:4646"
    assert Settings().describe() == "http://127.0.0.1:4646 ns=default"
    assert isinstance(Path(), Path)
