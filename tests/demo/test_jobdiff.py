"""Nomad's job diff, plan annotations, in-place rule and CLI diff text (nomadtui.demo.jobdiff)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nomadtui.demo.jobdiff import annotate_plan, job_diff, tasks_updated
from nomadtui.difftext import format_diff

NAME = "httpsbackend-sni-1"
IMAGE_V1 = "bigwhite/httpsbackendservice:v1.0.1"
IMAGE_V2 = "bigwhite/httpsbackendservice:v1.0.2"
SECOND = 1_000_000_000
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def make_job(**task_changes: Any) -> dict[str, Any]:
    """The article's job as `GET /v1/job/:id` returns it (server shape, ns durations)."""
    task = {
        "Name": NAME,
        "Driver": "docker",
        "User": "",
        "Config": {"image": IMAGE_V1, "ports": ["https"], "logging": [{"type": "json-file"}]},
        "Env": None,
        "Services": [
            {
                "Name": NAME,
                "TaskName": NAME,
                "PortLabel": "https",
                "AddressMode": "auto",
                "Address": "",
                "EnableTagOverride": False,
                "Tags": ["urlprefix-mysite-sni-1.com/ proto=tcp+sni"],
                "CanaryTags": None,
                "Checks": [
                    {
                        "Name": "alive",
                        "Type": "tcp",
                        "Interval": 10 * SECOND,
                        "Timeout": 2 * SECOND,
                        "PortLabel": "",
                        "Path": "",
                        "Protocol": "",
                    }
                ],
                "Connect": None,
                "Meta": None,
                "CanaryMeta": None,
                "Namespace": "default",
                "OnUpdate": "require_healthy",
                "Provider": "consul",
                "Cluster": "default",
            }
        ],
        "Resources": {
            "CPU": 100,
            "Cores": 0,
            "MemoryMB": 64,
            "MemoryMaxMB": 0,
            "DiskMB": 0,
            "Networks": None,
            "Devices": None,
        },
        "Meta": None,
        "KillTimeout": 5 * SECOND,
        "LogConfig": {"Disabled": False, "MaxFiles": 10, "MaxFileSizeMB": 10},
        "Templates": None,
        "Artifacts": None,
        "Leader": False,
        "ShutdownDelay": 0,
        "KillSignal": "",
        "Kind": "",
    }
    task.update(task_changes)
    group = {
        "Name": NAME,
        "Count": 3,
        "Update": {
            "Stagger": 30 * SECOND,
            "MaxParallel": 1,
            "HealthCheck": "checks",
            "MinHealthyTime": 30 * SECOND,
            "HealthyDeadline": 300 * SECOND,
            "ProgressDeadline": 600 * SECOND,
            "AutoRevert": False,
            "AutoPromote": False,
            "Canary": 0,
        },
        "Networks": [
            {
                "Mode": "",
                "Device": "",
                "CIDR": "",
                "IP": "",
                "MBits": 0,
                "Hostname": "",
                "DNS": None,
                "DynamicPorts": [{"Label": "https", "Value": 0, "To": 7777, "HostNetwork": "default"}],
                "ReservedPorts": None,
            }
        ],
        "Services": None,
        "RestartPolicy": {
            "Attempts": 2,
            "Interval": 1800 * SECOND,
            "Delay": 15 * SECOND,
            "Mode": "fail",
        },
        "ReschedulePolicy": {
            "Attempts": 0,
            "Interval": 0,
            "Delay": 30 * SECOND,
            "DelayFunction": "exponential",
            "MaxDelay": 3600 * SECOND,
            "Unlimited": True,
        },
        "EphemeralDisk": {"Sticky": False, "SizeMB": 300, "Migrate": False},
        "Meta": None,
        "ShutdownDelay": None,
        "Tasks": [task],
    }
    return {
        "ID": NAME,
        "Name": NAME,
        "Namespace": "default",
        "Region": "global",
        "Type": "service",
        "Priority": 50,
        "AllAtOnce": False,
        "Datacenters": ["dc1"],
        "NodePool": "default",
        "Meta": None,
        "Stop": False,
        "Dispatched": False,
        "Update": {"Stagger": 30 * SECOND, "MaxParallel": 1},
        "TaskGroups": [group],
        "Status": "running",
        "Version": 0,
        "Stable": True,
        "SubmitTime": 1_700_000_000_000_000_000,
        "CreateIndex": 10,
        "ModifyIndex": 20,
        "JobModifyIndex": 10,
    }


def group_of(job: dict[str, Any]) -> dict[str, Any]:
    return job["TaskGroups"][0]


def task_of(job: dict[str, Any]) -> dict[str, Any]:
    return group_of(job)["Tasks"][0]


def next_version(job: dict[str, Any]) -> dict[str, Any]:
    """A copy as the next version would be stored (indexes and version move on)."""
    new = copy.deepcopy(job)
    new.update(Version=job["Version"] + 1, Stable=False, Status="pending")
    new.update(JobModifyIndex=30, ModifyIndex=30)
    return new


def field(kind: str, name: str, old: str, new: str, *annotations: str) -> dict[str, Any]:
    """A FieldDiff as it goes over the wire."""
    wire_annotations = list(annotations) or None
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": wire_annotations}


def group_diff(diff: dict[str, Any], name: str = NAME) -> dict[str, Any]:
    return by_name(diff["TaskGroups"], name)


def task_diff(diff: dict[str, Any], group: str = NAME, task: str = NAME) -> dict[str, Any]:
    return by_name(group_diff(diff, group)["Tasks"], task)


def by_name(items: list[dict[str, Any]] | None, name: str) -> dict[str, Any]:
    matches = [item for item in items or () if item["Name"] == name]
    assert len(matches) == 1, (name, items)
    return matches[0]


@pytest.fixture
def old() -> dict[str, Any]:
    return make_job()


@pytest.fixture
def canary(old: dict[str, Any]) -> dict[str, Any]:
    """Step 2 of the article: canary = 1 and the image bumped to v1.0.2."""
    new = next_version(old)
    group_of(new)["Update"]["Canary"] = 1
    task_of(new)["Config"]["image"] = IMAGE_V2
    return new


def test_image_change_is_an_edited_config_with_context(old, canary):
    diff = job_diff(old, canary, contextual=True)

    assert diff["Type"] == "Edited" and diff["ID"] == NAME
    assert diff["Fields"] is None and diff["Objects"] is None  # versions and indexes are ignored
    group = group_diff(diff)
    task = by_name(group["Tasks"], NAME)
    assert task["Type"] == "Edited" and task["Fields"] is None and task["Annotations"] is None
    assert [o["Name"] for o in task["Objects"]] == ["Config"]
    config = task["Objects"][0]
    assert config["Type"] == "Edited" and config["Objects"] is None
    assert config["Fields"] == [
        field("Edited", "image", IMAGE_V1, IMAGE_V2),
        field("None", "logging[0][type]", "json-file", "json-file"),
        field("None", "ports[0]", "https", "https"),
    ]


def test_non_contextual_diff_drops_unchanged_siblings(old, canary):
    task = task_diff(job_diff(old, canary, contextual=False))
    assert [f["Name"] for f in task["Objects"][0]["Fields"]] == ["image"]


def test_canary_change_is_an_update_object(old, canary):
    group = group_diff(job_diff(old, canary, contextual=True))

    assert group["Type"] == "Edited" and group["Fields"] is None and group["Updates"] is None
    update = by_name(group["Objects"], "Update")
    assert update["Type"] == "Edited"
    names = [f["Name"] for f in update["Fields"]]
    assert names == [
        "AutoPromote",
        "AutoRevert",
        "Canary",
        "HealthCheck",
        "HealthyDeadline",
        "MaxParallel",
        "MinHealthyTime",
        "ProgressDeadline",
    ]  # sorted, and Stagger is filtered
    assert by_name(update["Fields"], "Canary") == field("Edited", "Canary", "0", "1")
    assert by_name(update["Fields"], "MinHealthyTime")["New"] == "30000000000"
    assert {f["Type"] for f in update["Fields"] if f["Name"] != "Canary"} == {"None"}


def test_annotate_plan_for_a_canary_deployment(old, canary):
    diff = job_diff(old, canary, contextual=True)
    annotated = annotate_plan(diff, {NAME: {"Canary": 1, "Ignore": 3, "Place": 0, "Stop": 0}})

    group = group_diff(annotated)
    assert group["Updates"] == {"canary": 1, "ignore": 3}
    assert by_name(group["Tasks"], NAME)["Annotations"] == ["forces create/destroy update"]
    assert group_diff(diff)["Updates"] is None  # the input is left alone


def test_annotate_plan_maps_every_update_type():
    diff = job_diff(make_job(), make_job(), contextual=True)
    counts = {
        "Ignore": 1,
        "Place": 2,
        "Migrate": 3,
        "Stop": 4,
        "Canary": 5,
        "InPlaceUpdate": 6,
        "DestructiveUpdate": 7,
        "Preemptions": 8,
        "RescheduleNow": 9,
    }
    group = annotate_plan(diff, {NAME: counts})["TaskGroups"][0]
    assert group["Updates"] == {
        "ignore": 1,
        "create": 2,
        "migrate": 3,
        "destroy": 4,
        "canary": 5,
        "in-place update": 6,
        "create/destroy update": 7,
    }


def test_tag_only_change_is_in_place(old):
    new = next_version(old)
    task_of(new)["Services"][0]["Tags"] = ["urlprefix-mysite-sni-1.com/ proto=tcp+sni", "v2"]

    assert tasks_updated(old, new, NAME) is False
    diff = job_diff(old, new, contextual=True)
    task = task_diff(diff)
    service = by_name(task["Objects"], "Service")
    tags = by_name(service["Objects"], "Tags")
    assert tags["Type"] == "Added"
    # Same-named fields sort by Old value, so the added tag (Old "") comes first.
    assert [(f["Type"], f["New"]) for f in tags["Fields"]] == [
        ("Added", "v2"),
        ("None", "urlprefix-mysite-sni-1.com/ proto=tcp+sni"),
    ]
    annotated = annotate_plan(diff, {NAME: {"InPlaceUpdate": 3}})
    group = group_diff(annotated)
    assert group["Updates"] == {"in-place update": 3}
    assert by_name(group["Tasks"], NAME)["Annotations"] == ["forces in-place update"]


def test_adding_canary_tags_adds_a_canary_tags_object(old):
    new = next_version(old)
    task_of(new)["Services"][0]["CanaryTags"] = ["canary"]

    task = task_diff(job_diff(old, new, contextual=True))
    service = by_name(task["Objects"], "Service")
    assert service["Type"] == "Edited"
    assert {f["Type"] for f in service["Fields"]} == {"None"}  # contextual siblings
    canary_tags = by_name(service["Objects"], "CanaryTags")
    assert canary_tags == {
        "Type": "Added",
        "Name": "CanaryTags",
        "Fields": [field("Added", "CanaryTags", "", "canary")],
        "Objects": None,
    }
    assert tasks_updated(old, new, NAME) is False


@pytest.mark.parametrize(
    "change",
    [
        lambda job: task_of(job)["Config"].update(image=IMAGE_V2),
        lambda job: task_of(job).update(Env={"LOG_LEVEL": "debug"}),
        lambda job: task_of(job).update(Meta={"team": "edge"}),
        lambda job: group_of(job).update(Meta={"team": "edge"}),
        # merged job+group+task meta: even a job-level meta edit is destructive
        lambda job: job.update(Meta={"team": "edge"}),
        lambda job: task_of(job)["Resources"].update(MemoryMB=128),
        lambda job: group_of(job)["Networks"][0]["DynamicPorts"][0].update(To=8443),
        lambda job: task_of(job)["LogConfig"].update(Disabled=True),
        lambda job: group_of(job)["EphemeralDisk"].update(SizeMB=500),
        lambda job: task_of(job).update(Driver="podman"),
    ],
    ids=["image", "env", "task-meta", "group-meta", "job-meta", "memory", "port", "log-disabled", "disk", "driver"],
)
def test_destructive_changes(old, change):
    new = next_version(old)
    change(new)
    assert tasks_updated(old, new, NAME) is True


@pytest.mark.parametrize(
    "change",
    [
        lambda job: group_of(job).update(Count=5),
        lambda job: group_of(job)["Update"].update(MaxParallel=2, Canary=1),
        lambda job: job.update(Priority=70),
        lambda job: task_of(job).update(KillTimeout=30 * SECOND),
        lambda job: task_of(job)["LogConfig"].update(MaxFiles=3),
        lambda job: task_of(job)["Services"][0]["Checks"][0].update(Interval=5 * SECOND),
        lambda job: job.update(Constraints=[{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}]),
        lambda job: job.update(Stable=False, Version=7, JobModifyIndex=99),
    ],
    ids=["count", "update-block", "priority", "kill-timeout", "log-rotation", "check", "constraint", "bookkeeping"],
)
def test_in_place_changes(old, change):
    new = next_version(old)
    change(new)
    assert tasks_updated(old, new, NAME) is False


def test_missing_keys_count_as_zero_values(old):
    sparse = next_version(old)
    for key in ("User", "Leader", "ShutdownDelay", "KillSignal", "Kind", "Env", "Meta"):
        del task_of(sparse)[key]
    del group_of(sparse)["ShutdownDelay"]

    diff = job_diff(old, sparse, contextual=True)
    assert diff["Type"] == "None"
    assert tasks_updated(old, sparse, NAME) is False


def test_store_bookkeeping_keys_are_not_diffed(old):
    new = next_version(old)
    new["_submission"] = "job.nomad"
    task_of(new)["_placed"] = 3
    assert job_diff(old, new, contextual=True)["Type"] == "None"


def test_log_rotation_is_in_place_but_annotated_like_nomad(old):
    """annotate.go treats any `Disabled` field in a LogConfig diff as destructive, and a
    contextual diff always carries it, so Nomad's plan text says create/destroy here even
    though the scheduler updates in place. Reproduced on purpose."""
    new = next_version(old)
    task_of(new)["LogConfig"]["MaxFiles"] = 3
    assert tasks_updated(old, new, NAME) is False
    updates = {NAME: {"InPlaceUpdate": 3}}
    contextual = annotate_plan(job_diff(old, new, contextual=True), updates)
    assert task_diff(contextual)["Annotations"] == ["forces create/destroy update"]
    plain = annotate_plan(job_diff(old, new, contextual=False), updates)
    assert task_diff(plain)["Annotations"] == ["forces in-place update"]


def test_identical_jobs_diff_to_none(old):
    diff = job_diff(old, next_version(old), contextual=True)

    assert diff["Type"] == "None" and diff["Fields"] is None and diff["Objects"] is None
    group = group_diff(diff)
    assert group["Type"] == "None" and group["Fields"] is None and group["Objects"] is None
    assert [(t["Type"], t["Fields"], t["Objects"]) for t in group["Tasks"]] == [("None", None, None)]
    annotated = annotate_plan(diff, {NAME: {"Ignore": 3}})
    assert group_diff(annotated)["Tasks"][0]["Annotations"] is None
    assert format_diff(annotated).splitlines() == [
        f'Job: "{NAME}"',
        f'Task Group: "{NAME}" (3 ignore)',
        f'  Task: "{NAME}"',
    ]


def test_new_job_is_added_and_forces_create(old):
    diff = annotate_plan(job_diff(None, old, contextual=True), {NAME: {"Place": 3}})

    assert diff["Type"] == "Added" and diff["ID"] == NAME
    fields = {f["Name"]: (f["Type"], f["New"]) for f in diff["Fields"]}
    assert fields["Priority"] == ("Added", "50") and fields["Stop"] == ("Added", "false")
    assert not {"ID", "Version", "Status", "SubmitTime", "JobModifyIndex"} & fields.keys()
    assert by_name(diff["Objects"], "Datacenters")["Type"] == "Added"
    group = group_diff(diff)
    assert group["Type"] == "Added" and group["Updates"] == {"create": 3}
    assert by_name(group["Fields"], "Count")["Annotations"] == ["forces create"]
    task = by_name(group["Tasks"], NAME)
    assert task["Type"] == "Added" and task["Annotations"] == ["forces create"]
    assert by_name(task["Fields"], "Driver")["New"] == "docker"
    assert format_diff(diff) == (
        f'+ Job: "{NAME}"\n+ Task Group: "{NAME}" (3 create)\n  + Task: "{NAME}" (forces create)'
    )


def test_count_change_is_annotated(old):
    new = next_version(old)
    group_of(new)["Count"] = 1
    diff = annotate_plan(job_diff(old, new, contextual=True), {NAME: {"Stop": 2, "Ignore": 1}})
    group = group_diff(diff)
    assert group["Fields"] == [field("Edited", "Count", "3", "1", "forces destroy")]
    assert group["Tasks"][0]["Type"] == "None"


def test_removed_group_and_job(old):
    new = next_version(old)
    new["TaskGroups"] = []
    group = annotate_plan(job_diff(old, new, contextual=True), {})["TaskGroups"][0]
    assert group["Type"] == "Deleted" and group["Updates"] is None
    assert group["Tasks"][0]["Annotations"] == ["forces destroy"]
    assert job_diff(old, None, contextual=False)["Type"] == "Deleted"
    with pytest.raises(ValueError, match="different IDs"):
        job_diff(old, {**old, "ID": "other"}, contextual=True)


def test_format_diff_matches_the_cli_for_the_canary_plan(old, canary):
    diff = annotate_plan(job_diff(old, canary, contextual=True), {NAME: {"Canary": 1, "Ignore": 3}})

    assert format_diff(diff) == "\n".join(
        [
            f'+/- Job: "{NAME}"',
            f'+/- Task Group: "{NAME}" (1 canary, 3 ignore)',
            "  +/- Update {",
            '        AutoPromote:      "false"',
            '        AutoRevert:       "false"',
            '    +/- Canary:           "0" => "1"',
            '        HealthCheck:      "checks"',
            '        HealthyDeadline:  "300000000000"',
            '        MaxParallel:      "1"',
            '        MinHealthyTime:   "30000000000"',
            '        ProgressDeadline: "600000000000"',
            "      }",
            f'  +/- Task: "{NAME}" (forces create/destroy update)',
            "    +/- Config {",
            f'      +/- image:            "{IMAGE_V1}" => "{IMAGE_V2}"',
            '          logging[0][type]: "json-file"',
            '          ports[0]:         "https"',
            "        }",
        ]
    )


def test_format_diff_for_history_has_no_annotations(old, canary):
    text = format_diff(job_diff(old, canary, contextual=True))
    assert text.splitlines()[1] == f'+/- Task Group: "{NAME}"'
    assert f'  +/- Task: "{NAME}"' in text.splitlines()
    assert "forces" not in text


def test_format_diff_quotes_like_go_and_aligns_markers(old):
    new = next_version(old)
    new["Meta"] = {"note": 'say "hi"\n'}
    new["Priority"] = 60
    text = format_diff(job_diff(old, new, contextual=True))
    assert text.splitlines()[:3] == [
        f'+/- Job: "{NAME}"',
        '+   Meta[note]: "say \\"hi\\"\\n"',
        '+/- Priority:   "50" => "60"',
    ]


def test_config_numbers_print_like_go_floats(old):
    new = next_version(old)
    task_of(new)["Config"].update(shm_size=1_000_000, cpu_hard_limit=True, weight=0.5, port=8080)
    config = by_name(task_diff(job_diff(old, new, contextual=False))["Objects"], "Config")
    assert {f["Name"]: f["New"] for f in config["Fields"]} == {
        "shm_size": "1e+06",
        "cpu_hard_limit": "true",
        "weight": "0.5",
        "port": "8080",
    }


def test_versions_fixture_diff_is_reproduced():
    path = SHARED / "fixtures" / "nomad-api" / "get-v1-job-id-versions.diffs-true.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    body = json.loads(path.read_text())
    newest, previous = body["Versions"][0], body["Versions"][1]

    diff = job_diff(previous, newest, contextual=True)

    expected = body["Diffs"][0]
    env = by_name(task_diff(diff, "cache", "redis")["Fields"], "Env[foo]")
    want = by_name(task_diff(expected, "cache", "redis")["Fields"], "Env[foo]")
    assert env == want == field("Added", "Env[foo]", "", "bar")
    assert diff == expected
    assert tasks_updated(previous, newest, "cache") is True
