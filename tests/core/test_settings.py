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


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ftp://host:21", "not an http:// or https:// address (its scheme is ftp)"),
        ("unix:///var/run/nomad.sock", "a unix:// socket, which nomadtui does not support"),
        ("http://[bad", "not a valid address: the IPv6 address has no closing ]"),
        ("http://[nope]:4646", "not a valid address: 'nope' in brackets is not an IPv6 address"),
        ("http://[::1]x", "not a valid address: 'x' follows the IPv6 address ] where only :port may"),
        ("http://::1:4646", "an IPv6 address must be written in brackets"),
        ("http://nomad:abc", "not a valid address: the port 'abc' is not a number"),
        ("http://nomad:-1", "the port '-1' is not a number"),
        ("http://nomad:65536", "the port 65536 is not between 1 and 65535"),
        ("http://nomad:0", "the port 0 is not between 1 and 65535"),
        ("http://:4646", "not a valid address: it has no host"),
        ("http://", "not a valid address: it has no host"),
        ("https://user@:4646/", "it has no host"),
        ("http://no mad:4646", "the host 'no mad' cannot contain ' '"),
        ("://nomad", "not an address: it has no scheme before ://"),
    ],
)
def test_addresses_that_cannot_be_used_are_refused_with_their_origin(tmp_path, value, reason):
    for flags, env, origin in (
        ({"address": value}, {}, "--addr"),
        ({}, {"NOMAD_ADDR": value}, "NOMAD_ADDR"),
        ({"fabio_address": value}, {}, "--fabio-addr"),
        ({}, {"FABIO_ADDR": value}, "FABIO_ADDR"),
    ):
        with pytest.raises(SettingsError) as refused:
            load(flags, env=env, config=tmp_path / "x.toml")
        assert str(refused.value).startswith(f"{origin} is {value!r}, ") and reason in str(refused.value)


def test_addresses_the_nomad_cli_takes_are_kept(tmp_path):
    def address(value: str) -> str:
        return load({"address": value}, env={}, config=tmp_path / "x.toml").address

    assert address("nomad.example:4646") == "http://nomad.example:4646"
    assert address("localhost") == "http://localhost"
    assert address("[::1]:4646") == "http://[::1]:4646"
    assert address("HTTPS://Nomad.example:4646/") == "https://Nomad.example:4646"
    assert address("http://[fe80::1%25eth0]:4646") == "http://[fe80::1%25eth0]:4646"
    assert address("http://nomad:") == "http://nomad:"  # Go reads an empty port as the default
    assert load({}, env={"FABIO_ADDR": "fabio:9998/"}, config=tmp_path / "x.toml").fabio_address == "http://fabio:9998"


def test_an_address_from_the_config_file_names_its_cluster_and_file(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        'default_cluster = "prod"\n[clusters.prod]\naddress = "https://[bad:4646"\nfabio_address = 9998\n'
    )
    with pytest.raises(SettingsError) as refused:
        load({}, env={}, config=config)
    assert str(refused.value) == (
        f"address in [clusters.prod] of {config} is 'https://[bad:4646', "
        "not a valid address: the IPv6 address has no closing ]"
    )
    with pytest.raises(SettingsError, match=r"^fabio_address in \[clusters.prod\] of .* is 9998, not a string$"):
        load({"address": "http://ok:4646"}, env={}, config=config)


def test_a_password_in_an_address_never_shows(tmp_path):
    with pytest.raises(SettingsError) as refused:
        load({}, env={"NOMAD_ADDR": "ftp://ops:hunter2@nomad:21"}, config=tmp_path / "x.toml")
    assert "hunter2" not in str(refused.value) and "'ftp://ops:***@nomad:21'" in str(refused.value)
    s = load({}, env={"NOMAD_ADDR": "https://ops:hunter2@nomad:4646"}, config=tmp_path / "x.toml")
    assert s.address == "https://ops:hunter2@nomad:4646"  # sent as basic auth, as Go's client does
    assert s.describe() == "https://ops:***@nomad:4646 ns=default"


def test_the_jobs_folder_must_be_a_folder(tmp_path):
    assert load({"jobs_dir": tmp_path}, env={}, config=tmp_path / "x.toml").jobs_dir == tmp_path
    with pytest.raises(SettingsError) as refused:
        load({"jobs_dir": tmp_path / "missing"}, env={}, config=tmp_path / "x.toml")
    assert str(refused.value) == f"--jobs-dir is {str(tmp_path / 'missing')!r}, which does not exist"
    job = tmp_path / "web.nomad"
    job.write_text("")
    with pytest.raises(SettingsError) as refused:
        load({"jobs_dir": job}, env={}, config=tmp_path / "x.toml")
    assert str(refused.value) == f"--jobs-dir is {str(job)!r}, which is not a folder"
    config = tmp_path / "config.toml"
    config.write_text(f'default_cluster = "a"\n[clusters.a]\njobs_dir = "{tmp_path / "gone"}"\n')
    with pytest.raises(SettingsError, match=r"^jobs_dir in \[clusters.a\] of .* which does not exist$"):
        load({}, env={}, config=config)
