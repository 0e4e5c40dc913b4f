"""Tests for nomadtui.demo.jobspec: HCL2 jobspecs turned into Nomad's wire shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nomadtui.demo.jobspec import (
    JobspecError,
    format_duration,
    job_meta_merged,
    parse_duration,
    parse_hcl,
    to_struct,
    validate,
)

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "nomadtui" / "demo" / "jobs"
FIXTURES = REPO.parent / "shared" / "fixtures" / "nomad-api"
S = 1_000_000_000

SEED_IMAGES = {
    "httpsbackend-tcp-sni-1.nomad": "v1.0.0",
    "httpsbackend-tcp-sni-1-rolling-update.nomad": "v1.0.1",
    "httpsbackend-tcp-sni-1-canary-1.nomad": "v1.0.2",
    "httpsbackend-tcp-sni-1-canary-2.nomad": "v1.0.3",
    "httpsbackend-tcp-sni-1-blue-green.nomad": "v1.0.4",
    "httpsbackend-tcp-sni-1-canary-fail.nomad": "v1.0.5",
}
SEED_CANARIES = {
    "httpsbackend-tcp-sni-1.nomad": 0,
    "httpsbackend-tcp-sni-1-rolling-update.nomad": 0,
    "httpsbackend-tcp-sni-1-canary-1.nomad": 1,
    "httpsbackend-tcp-sni-1-canary-2.nomad": 1,
    "httpsbackend-tcp-sni-1-blue-green.nomad": 3,
    "httpsbackend-tcp-sni-1-canary-fail.nomad": 1,
}
STRUCT_JOB_KEYS = {
    "Stop",
    "Region",
    "Namespace",
    "ID",
    "ParentID",
    "Name",
    "Type",
    "Priority",
    "AllAtOnce",
    "Datacenters",
    "NodePool",
    "Constraints",
    "Affinities",
    "Spreads",
    "TaskGroups",
    "Update",
    "Multiregion",
    "Periodic",
    "ParameterizedJob",
    "Dispatched",
    "DispatchIdempotencyToken",
    "Payload",
    "Meta",
    "ConsulNamespace",
    "VaultNamespace",
    "NomadTokenID",
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "UI",
    "VersionTag",
}
UPDATE_KEYS = {
    "Stagger",
    "MaxParallel",
    "HealthCheck",
    "MinHealthyTime",
    "HealthyDeadline",
    "ProgressDeadline",
    "AutoRevert",
    "AutoPromote",
    "Canary",
}


def seed(name: str) -> str:
    return (JOBS / name).read_text()


def only_group(job: dict) -> dict:
    assert len(job["TaskGroups"]) == 1
    return job["TaskGroups"][0]


def parse_error(text: str, **kwargs) -> JobspecError:
    with pytest.raises(JobspecError) as info:
        parse_hcl(text, **kwargs)
    return info.value


def validation_error(text: str) -> str:
    with pytest.raises(JobspecError) as info:
        validate(to_struct(parse_hcl(text)))
    return info.value.message


# -- the seed jobs -------------------------------------------------------------


def test_every_seed_job_is_covered() -> None:
    assert sorted(path.name for path in JOBS.glob("*.nomad")) == sorted(SEED_IMAGES)


@pytest.mark.parametrize("name", sorted(SEED_IMAGES))
def test_seed_job_parses_to_the_api_shape(name: str) -> None:
    job = parse_hcl(seed(name))
    assert job["ID"] == job["Name"] == "httpsbackend-sni-1"
    assert job["Type"] == "service"
    assert job["Datacenters"] == ["dc1"]
    assert job["Priority"] is None and job["Region"] is None  # not canonicalized
    group = only_group(job)
    assert group["Count"] == 3
    task = group["Tasks"][0]
    assert task["Driver"] == "docker"
    assert task["Config"] == {
        "image": f"bigwhite/httpsbackendservice:{SEED_IMAGES[name]}",
        "ports": ["https"],
        "logging": [{"type": "json-file"}],
    }
    assert task["Resources"]["CPU"] == 100 and task["Resources"]["MemoryMB"] == 64
    assert group["Networks"][0]["DynamicPorts"] == [
        {"Label": "https", "Value": 0, "To": 7777, "HostNetwork": "", "IgnoreCollision": False}
    ]
    service = task["Services"][0]
    assert service["Name"] == "httpsbackend-sni-1"
    assert service["PortLabel"] == "https"
    assert service["Tags"] == ["urlprefix-mysite-sni-1.com/ proto=tcp+sni"]
    check = service["Checks"][0]
    assert (check["Name"], check["Type"], check["Interval"], check["Timeout"]) == ("alive", "tcp", 10 * S, 2 * S)


@pytest.mark.parametrize("name", sorted(SEED_IMAGES))
def test_seed_job_converts_and_validates(name: str) -> None:
    job = to_struct(parse_hcl(seed(name)))
    validate(job)
    assert set(job) == STRUCT_JOB_KEYS
    assert job["Update"] == {
        "Stagger": 30 * S,
        "MaxParallel": 1,
        "HealthCheck": "",
        "MinHealthyTime": 0,
        "HealthyDeadline": 0,
        "ProgressDeadline": 0,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    group = only_group(job)
    assert set(group["Update"]) == UPDATE_KEYS
    assert group["Update"]["Canary"] == SEED_CANARIES[name]
    port = group["Networks"][0]["DynamicPorts"][0]
    assert (port["Label"], port["To"], port["HostNetwork"]) == ("https", 7777, "default")
    task = group["Tasks"][0]
    assert task["Config"]["image"].endswith(SEED_IMAGES[name])
    assert task["KillTimeout"] == 5 * S
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    service = task["Services"][0]
    assert (service["Provider"], service["AddressMode"], service["OnUpdate"]) == ("consul", "auto", "require_healthy")
    assert service["TaskName"] == "httpsbackend-sni-1"
    assert service["Checks"][0]["OnUpdate"] == "require_healthy"
    # The "constraints" admission mutator pins Consul for groups with Consul services.
    assert group["Constraints"] == [{"LTarget": "${attr.consul.version}", "RTarget": ">= 1.7.0", "Operand": "semver"}]


def test_seed_without_update_block_gets_the_default_strategy() -> None:
    group = only_group(to_struct(parse_hcl(seed("httpsbackend-tcp-sni-1.nomad"))))
    assert group["Update"] == {
        "Stagger": 30 * S,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
        "ProgressDeadline": 600 * S,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    assert group["Migrate"] == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
    }
    assert group["RestartPolicy"] == {
        "Attempts": 2,
        "Interval": 1800 * S,
        "Delay": 15 * S,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert group["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * S,
        "DelayFunction": "exponential",
        "MaxDelay": 3600 * S,
        "Unlimited": True,
    }
    assert group["EphemeralDisk"] == {"Sticky": False, "SizeMB": 300, "Migrate": False}


def test_canary_fail_update_values_and_meta() -> None:
    api = parse_hcl(seed("httpsbackend-tcp-sni-1-canary-fail.nomad"))
    assert api["Meta"] == {"nomadtui_demo_fail": "unhealthy"}
    assert only_group(api)["Update"] == {
        "Stagger": None,
        "MaxParallel": 1,
        "HealthCheck": None,
        "MinHealthyTime": 30 * S,
        "HealthyDeadline": 60 * S,
        "ProgressDeadline": 120 * S,
        "Canary": 1,
        "AutoRevert": True,
        "AutoPromote": None,
    }
    job = to_struct(api)
    assert job["Meta"] == {"nomadtui_demo_fail": "unhealthy"}
    update = only_group(job)["Update"]
    assert (update["HealthyDeadline"], update["ProgressDeadline"], update["AutoRevert"]) == (60 * S, 120 * S, True)


def test_canary_tags_only_in_the_isolated_canary_job() -> None:
    tags = "urlprefix-canary.mysite-sni-1.com/ proto=tcp+sni"
    service = only_group(to_struct(parse_hcl(seed("httpsbackend-tcp-sni-1-canary-2.nomad"))))["Tasks"][0]["Services"][0]
    assert service["CanaryTags"] == [tags]
    other = only_group(to_struct(parse_hcl(seed("httpsbackend-tcp-sni-1-canary-1.nomad"))))["Tasks"][0]["Services"][0]
    assert other["CanaryTags"] is None


def test_blue_green_update_in_nanoseconds() -> None:
    update = only_group(to_struct(parse_hcl(seed("httpsbackend-tcp-sni-1-blue-green.nomad"))))["Update"]
    assert update == {
        "Stagger": 30 * S,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 30 * S,
        "HealthyDeadline": 300 * S,
        "ProgressDeadline": 600 * S,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 3,
    }


# -- wire fixtures -------------------------------------------------------------


def fixture(name: str) -> dict:
    if not FIXTURES.is_dir():
        pytest.skip("shared fixtures are not available")
    return json.loads((FIXTURES / name).read_text())


def test_parse_request_fixture_canonicalized() -> None:
    request = fixture("post-v1-jobs-parse.request.json")
    response = fixture("post-v1-jobs-parse.response.json")
    job = parse_hcl(request["JobHCL"], canonicalize=request["Canonicalize"])
    # The doc sample predates these api.Job fields; current agents send all of them.
    newer = {
        "Spreads",
        "Multiregion",
        "UI",
        "Dispatched",
        "DispatchIdempotencyToken",
        "ConsulNamespace",
        "VaultNamespace",
        "NomadTokenID",
        "VersionTag",
    }
    assert set(job) == set(response) | newer
    assert (job["ID"], job["Name"], job["Type"]) == ("example", "example", "service")
    assert (job["Region"], job["Namespace"], job["Priority"], job["AllAtOnce"]) == ("global", "default", 50, False)
    assert job["Update"]["MaxParallel"] == 1 and job["Update"]["HealthCheck"] == "checks"
    group = only_group(job)
    assert group["Name"] == "cache" and group["Count"] == 1
    assert group["Update"] == job["Update"]
    assert group["RestartPolicy"] == {
        "Interval": 1800 * S,
        "Attempts": 2,
        "Delay": 15 * S,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert group["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}


def test_parse_request_fixture_not_canonicalized() -> None:
    request = fixture("post-v1-jobs-parse.request.json")
    job = parse_hcl(request["JobHCL"])
    assert job["Update"] is None and job["Priority"] is None and job["Region"] is None
    assert job["Dispatched"] is False
    assert only_group(job)["Count"] is None


def test_struct_shape_covers_the_versions_fixture() -> None:
    stored = fixture("get-v1-job-id-versions.diffs-true.json")["Versions"][0]
    job = to_struct(parse_hcl(seed("httpsbackend-tcp-sni-1.nomad")))
    group, task = job["TaskGroups"][0], job["TaskGroups"][0]["Tasks"][0]
    fixture_group, fixture_task = stored["TaskGroups"][0], stored["TaskGroups"][0]["Tasks"][0]
    assert set(stored) <= set(job)
    assert set(fixture_group) <= set(group)
    assert set(fixture_task) - {"IOPS"} <= set(task)
    assert set(fixture_task["Resources"]) <= set(task["Resources"])
    assert set(fixture_group["Networks"][0]) <= set(group["Networks"][0])
    assert set(fixture_group["Networks"][0]["DynamicPorts"][0]) <= set(group["Networks"][0]["DynamicPorts"][0])
    assert job["Update"].keys() == stored["Update"].keys()


# -- more of the language ------------------------------------------------------

VARIABLE_JOB = """
variable "image" {
  type    = string
  default = "nginx:1.25"
}
variable "replicas" {
  type    = number
  default = 2
}
locals {
  label = "${var.image}-web"
}
job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = var.replicas
    task "server" {
      driver = "docker"
      config {
        image = var.image
        args  = [":${NOMAD_PORT_http}", "$${literal}", "${attr.kernel.name}"]
      }
      meta {
        label = local.label
      }
    }
  }
}
"""


def test_variables_use_their_defaults() -> None:
    group = only_group(parse_hcl(VARIABLE_JOB))
    task = group["Tasks"][0]
    assert group["Count"] == 2
    assert task["Config"]["image"] == "nginx:1.25"
    assert task["Meta"] == {"label": "nginx:1.25-web"}
    # Runtime interpolations stay verbatim; an escaped one loses its escape.
    assert task["Config"]["args"] == [":${NOMAD_PORT_http}", "${literal}", "${attr.kernel.name}"]


def test_variables_file_overrides_defaults() -> None:
    group = only_group(parse_hcl(VARIABLE_JOB, variables='image = "nginx:1.27"\nreplicas = "5"\n'))
    assert group["Count"] == 5
    assert group["Tasks"][0]["Config"]["image"] == "nginx:1.27"


def test_unset_variable_is_an_error() -> None:
    text = 'variable "image" {}\njob "a" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n    }\n  }\n}\n'
    err = parse_error(text)
    assert err.message == (
        'Failed to parse job: <nil>: Unset variable "image"; A used variable must be set or have a default '
        "value; see https://developer.hashicorp.com/nomad/docs/job-specification/hcl2/variables for details."
    )
    assert parse_hcl(text, variables='image = "x"')["ID"] == "a"


def test_undeclared_variable_reference() -> None:
    err = parse_error('job "a" {\n  type = var.kind\n}\n')
    assert err.message == (
        "Failed to parse job: input.hcl:2,13-18: Unsupported attribute; This object does not have an attribute "
        'named "kind".'
    )
    assert (err.line, err.column) == (2, 13)


def test_heredoc_templates_keep_their_final_newline() -> None:
    text = """job "a" {
  group "g" {
    task "t" {
      driver = "exec"
      template {
        destination = "local/a"
        data        = <<-EOT
          port={{ env "NOMAD_PORT_http" }}
            indented
          EOT
      }
      template {
        destination = "local/b"
        change_mode = "signal"
        data        = <<EOT
raw ${NOMAD_TASK_NAME}
EOT
      }
    }
  }
}
"""
    first, second = only_group(parse_hcl(text))["Tasks"][0]["Templates"]
    assert first["EmbeddedTmpl"] == 'port={{ env "NOMAD_PORT_http" }}\n  indented\n'
    assert (first["ChangeMode"], first["Perms"], first["Splay"]) == ("restart", "0644", 5 * S)
    assert second["EmbeddedTmpl"] == "raw ${NOMAD_TASK_NAME}\n"
    task = only_group(to_struct(parse_hcl(text)))["Tasks"][0]
    assert task["Templates"][1]["ChangeSignal"] == "SIGHUP"
    constraints = only_group(to_struct(parse_hcl(text)))["Constraints"]
    assert constraints == [{"LTarget": "${attr.os.signals}", "RTarget": "SIGHUP", "Operand": "set_contains"}]


def test_constraints_meta_ports_and_job_update_merge() -> None:
    text = """job "a" {
  datacenters = ["dc1"]
  meta = { "team.name" = "ops", replicas = 3 }
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  constraint {
    distinct_hosts = true
  }
  update {
    max_parallel = 2
    stagger      = "10s"
  }
  group "g" {
    update {
      canary = 1
    }
    network {
      port "http" {
        static = 8080
      }
      port "metrics" {}
    }
    task "t" {
      driver = "exec"
    }
  }
}
"""
    api = parse_hcl(text)
    assert api["Meta"] == {"team.name": "ops", "replicas": "3"}
    assert api["Constraints"] == [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
        {"LTarget": "", "RTarget": "", "Operand": "distinct_hosts"},
    ]
    network = only_group(api)["Networks"][0]
    assert [port["Label"] for port in network["ReservedPorts"]] == ["http"]
    assert network["ReservedPorts"][0]["Value"] == 8080
    assert [port["Label"] for port in network["DynamicPorts"]] == ["metrics"]
    job = to_struct(api)
    assert (job["Update"]["Stagger"], job["Update"]["MaxParallel"]) == (10 * S, 2)
    group_update = only_group(job)["Update"]
    assert (group_update["MaxParallel"], group_update["Stagger"], group_update["Canary"]) == (2, 10 * S, 1)
    validate(job)


def test_batch_jobs_have_no_update_strategy() -> None:
    text = 'job "b" {\n  type = "batch"\n  group "g" {\n    task "t" {\n      driver = "exec"\n    }\n  }\n}\n'
    job = to_struct(parse_hcl(text))
    validate(job)
    group = only_group(job)
    assert group["Update"] is None and group["Migrate"] is None
    assert job["Update"] == {
        "Stagger": 0,
        "MaxParallel": 0,
        "HealthCheck": "",
        "MinHealthyTime": 0,
        "HealthyDeadline": 0,
        "ProgressDeadline": 0,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    assert group["ReschedulePolicy"]["DelayFunction"] == "constant"
    assert group["RestartPolicy"]["Attempts"] == 3
    assert job["Datacenters"] == ["*"] and job["NodePool"] == "default"


def test_request_namespace_and_region() -> None:
    api = parse_hcl('job "a" {\n  namespace = "apps"\n  region = "eu"\n}\n')
    assert (to_struct(api)["Namespace"], to_struct(api)["Region"]) == ("apps", "eu")
    assert to_struct(api, namespace="other", region="us")["Namespace"] == "other"
    assert to_struct(parse_hcl('job "a" {}'))["Namespace"] == "default"


def test_job_meta_merged_prefers_the_innermost_scope() -> None:
    job = {
        "Meta": {"a": "job", "b": "job", "c": "job"},
        "TaskGroups": [
            {"Name": "g", "Meta": {"b": "group", "c": "group"}, "Tasks": [{"Name": "t", "Meta": {"c": "task"}}]}
        ],
    }
    assert job_meta_merged(job, "g", "t") == {"a": "job", "b": "group", "c": "task"}
    group = job["TaskGroups"][0]
    assert job_meta_merged(job, group, group["Tasks"][0]) == {"a": "job", "b": "group", "c": "task"}
    assert job_meta_merged({"Meta": None}, {"Meta": None}, {"Meta": None}) == {}


# -- parse errors ----------------------------------------------------------------


def test_empty_spec() -> None:
    assert parse_error("").message == "Job spec is empty"


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (
            'job "a" {\n  type = "service"\n  group "g" {\n    count = 3 3\n  }\n}\n',
            "input.hcl:4,15-16: Missing newline after argument; An argument definition must end with a newline.",
            4,
            15,
        ),
        (
            'job "a" {\n  type = \n}\n',
            "input.hcl:2,10-3,1: Invalid expression; Expected the start of an expression, but found an invalid "
            "expression token.",
            2,
            10,
        ),
        (
            'job "a" {\n  group "g" {\n    count = 1\n  }\n',
            "input.hcl:1,9-10: Unclosed configuration block; There is no closing brace for this block before the "
            "end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
            1,
            9,
        ),
        (
            'job "a" {\n  datacenters = ["dc1" "dc2"]\n}\n',
            "input.hcl:2,24-25: Missing item separator; Expected a comma to mark the beginning of the next item.",
            2,
            24,
        ),
        (
            'job "a" {\n  type = "service\n}\n',
            "input.hcl:2,18-3,1: Invalid multi-line string; Quoted strings may not be split over multiple lines. "
            "To produce a multi-line string, either use the \\n escape to represent a newline character or use "
            'the "heredoc" multi-line template syntax.',
            2,
            18,
        ),
        (
            'job "a" {\n  @\n}\n',
            "input.hcl:2,3-4: Invalid character; This character is not used within the language.",
            2,
            3,
        ),
        (
            'job "a" {\n  type = "a"\n  type = "b"\n}\n',
            'input.hcl:3,3-7: Attribute redefined; The argument "type" was already set at input.hcl:2,3-7. '
            "Each argument may be set only once.",
            3,
            3,
        ),
    ],
)
def test_syntax_errors_report_hcl_diagnostics(text: str, message: str, line: int, column: int) -> None:
    err = parse_error(text)
    assert err.message == f"Failed to parse job: {message}"
    assert (err.line, err.column) == (line, column)


def test_missing_and_duplicate_job_blocks() -> None:
    assert parse_error('variable "x" {\n  default = 1\n}\n').message == (
        "Failed to parse job: <nil>: Missing job block; A job block is required"
    )
    err = parse_error('job "a" {}\njob "b" {}\n')
    assert err.message == (
        'Failed to parse job: input.hcl:2,1-8: Duplicate job block; Only one block of type "job" is allowed. '
        "Previous definition was at input.hcl:1,1-8."
    )
    assert (err.line, err.column) == (2, 1)


def test_unknown_arguments_and_blocks() -> None:
    err = parse_error('job "a" {\n  typ = "service"\n  grop "g" {}\n}\n')
    assert err.message == (
        'Failed to parse job: input.hcl:2,3-6: Unsupported argument; An argument named "typ" is not expected '
        'here. Did you mean "type"?\n'
        'input.hcl:3,3-7: Unsupported block type; Blocks of type "grop" are not expected here. '
        'Did you mean "group"?'
    )


def test_bad_values() -> None:
    err = parse_error('job "a" {\n  group "g" {\n    update {\n      min_healthy_time = "10 sec"\n    }\n  }\n}\n')
    assert err.message == (
        "Failed to parse job: input.hcl:4,27-33: Unsuitable value type; Unsuitable duration value: "
        'time: unknown unit " sec" in duration "10 sec"'
    )
    err = parse_error('job "a" {\n  group "g" {\n    count = "three"\n  }\n}\n')
    assert err.message == (
        "Failed to parse job: input.hcl:3,14-19: Unsuitable value type; Unsuitable value: a number is required"
    )
    err = parse_error('job "a" {\n  group {\n  }\n}\n')
    assert err.message == (
        "Failed to parse job: input.hcl:2,9-10: Missing name for group; All group blocks must have 1 labels (name)."
    )


# -- validation --------------------------------------------------------------------

VALID_TASK = '    task "t" {\n      driver = "exec"\n    }\n'


def test_validation_negative_count() -> None:
    text = f'job "httpsbackend" {{\n  group "httpsbackend" {{\n    count = -1\n{VALID_TASK}  }}\n}}\n'
    assert validation_error(text) == (
        "1 error occurred:\n\t* Task group httpsbackend validation failed: 1 error occurred:\n"
        "\t* Task group count can't be negative\n\n\n\n"
    )


def test_validation_update_rules() -> None:
    text = (
        'job "a" {\n  group "g" {\n    update {\n      min_healthy_time  = "5m"\n      healthy_deadline  = "5m"\n'
        '      progress_deadline = "1m"\n      auto_promote      = true\n      max_parallel      = -1\n    }\n'
        f"{VALID_TASK}  }}\n}}\n"
    )
    assert validation_error(text) == (
        "1 error occurred:\n\t* Task group g validation failed: 1 error occurred:\n"
        "\t* 4 errors occurred:\n"
        "\t* Max parallel can not be less than zero: -1 < 0\n"
        "\t* Auto Promote requires a Canary count greater than zero\n"
        "\t* Minimum healthy time must be less than healthy deadline: 5m0s > 5m0s\n"
        "\t* Healthy deadline must be less than progress deadline: 5m0s > 1m0s\n\n\n\n\n\n"
    )


def test_validation_job_level_problems() -> None:
    message = validation_error(
        'job "a" {\n  type = "web"\n  group "g" {\n' + VALID_TASK + '  }\n  group "g" {\n' + VALID_TASK + "  }\n}\n"
    )
    assert message.startswith("2 errors occurred:\n")
    assert '\t* Invalid job type: "web"\n' in message
    assert "\t* Job task group 2 redefines 'g' from group 1\n" in message


def test_validation_no_task_groups_and_no_driver() -> None:
    assert validation_error('job "a" {}') == "1 error occurred:\n\t* Missing job task groups\n\n"
    message = validation_error('job "a" {\n  group "g" {\n    task "t" {}\n  }\n}\n')
    assert "Task t validation failed: 1 error occurred:\n\t* Missing task driver\n\n" in message


def test_validation_batch_update_and_duplicate_tasks() -> None:
    text = (
        'job "a" {\n  type = "batch"\n  group "g" {\n    update {\n      max_parallel = 1\n    }\n'
        f"{VALID_TASK}{VALID_TASK}  }}\n}}\n"
    )
    message = validation_error(text)
    assert '\t* Job type "batch" does not allow update block\n' in message
    assert "\t* Task 2 redefines 't' from task 1\n" in message


def test_validation_service_port_must_exist() -> None:
    text = (
        'job "a" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n      service {\n'
        '        name = "web"\n        port = "http"\n      }\n    }\n  }\n}\n'
    )
    assert 'port label "http" referenced by services web does not exist' in validation_error(text)


# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("30s", 30 * S),
        ("5m", 300 * S),
        ("1h30m", 5400 * S),
        ("500ms", 500_000_000),
        ("1.5s", 1_500_000_000),
        ("0", 0),
        ("-2s", -2 * S),
        ("10us", 10_000),
        ("1h2m3.5s", 3723 * S + 500_000_000),
    ],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("10", 'time: missing unit in duration "10"'),
        ("3d", 'time: unknown unit "d" in duration "3d"'),
        ("s", 'time: invalid duration "s"'),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (30 * S, "30s"),
        (300 * S, "5m0s"),
        (1_500_000_000, "1.5s"),
        (5400 * S, "1h30m0s"),
        (1_500_000, "1.5ms"),
        (1_500, "1.5µs"),
        (999, "999ns"),
        (-1_500_000_000, "-1.5s"),
    ],
)
def test_format_duration(ns: int, text: str) -> None:
    assert format_duration(ns) == text
