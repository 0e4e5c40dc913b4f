"""`/v1/client/allocation/:alloc_id/checks` as a Nomad client answers it: results for the checks
of `provider = "nomad"` services, `null` for Consul's (client/serviceregistration/checks)."""

from __future__ import annotations

from nomadtui.demo.cluster import JOBS_DIR
from tests.helpers import http

JOB = "httpsbackend-sni-1"


def nomad_provider_job() -> str:
    """The article's first job with its service registered in Nomad, its check an HTTP one."""
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    hcl = hcl.replace('name = "httpsbackend-sni-1"\n', 'name = "httpsbackend-sni-1"\n        provider = "nomad"\n', 1)
    hcl = hcl.replace('type     = "tcp"', 'type     = "http"\n          path     = "/"')
    return hcl.replace("cpu    = 100", "cpu    = 101")  # a destructive update: new allocations


def run(demo, hcl: str) -> None:
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    demo.advance(0)


def running_alloc(demo) -> dict:
    allocs = http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()
    return next(a for a in allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running")


def test_consul_checks_are_not_nomads_to_report(demo):
    """checkstore/shim.go List: no Nomad checks for the allocation, a nil map: `null`."""
    alloc = running_alloc(demo)
    for prefix in ("/v1/client/allocation", "/v1/allocation"):  # alloc_endpoint.go routes both
        resp = http.get(f"{demo.nomad_url}{prefix}/{alloc['ID']}/checks")
        assert resp.status_code == 200 and resp.text == "null"


def test_an_unknown_allocation_is_a_404(demo):
    """allocChecks: IsErrUnknownAllocation becomes a 404."""
    resp = http.get(f"{demo.nomad_url}/v1/client/allocation/no-such-alloc/checks")
    assert resp.status_code == 404 and resp.text == 'Unknown allocation "no-such-alloc"'


def test_a_nomad_check_is_pending_until_its_interval_then_passes(demo):
    """checks/client.go checkHTTP ("nomad: http ok", StatusCode 200); structs/checks.go
    CheckQueryResult and GetCheckMode (healthiness unless on_update = "ignore")."""
    run(demo, nomad_provider_job())
    demo.advance(5)  # the new allocations start; their check has not run a whole interval yet
    allocs = http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()
    newest = max((a for a in allocs if a["JobVersion"] == 1), key=lambda a: a["CreateIndex"])
    url = f"{demo.nomad_url}/v1/client/allocation/{newest['ID']}/checks"
    [pending] = http.get(url).json().values()
    assert pending["Status"] == "pending" and pending["Mode"] == "healthiness"
    assert (pending["Group"], pending["Service"], pending["Check"]) == (JOB, JOB, "alive")
    demo.advance(15)
    [result] = http.get(url).json().values()
    assert len(result["ID"]) == 64 and result["ID"] == pending["ID"]  # NomadCheckID: a SHA-256
    assert (result["Status"], result["Output"], result["StatusCode"]) == ("success", "nomad: http ok", 200)
    assert isinstance(result["Timestamp"], int)
