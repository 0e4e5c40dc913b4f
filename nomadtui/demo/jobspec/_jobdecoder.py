"""The ``job`` block decoded into api.Job JSON, like jobspec2."""

from __future__ import annotations

from collections.abc import Callable

from ...wire import SECOND
from ._api import (
    API_GROUP_KEYS,
    API_JOB_KEYS,
    API_NETWORK_KEYS,
    API_RESOURCES_KEYS,
    API_TEMPLATE_KEYS,
    api_check_blank,
    api_port,
    api_service_blank,
    api_task_blank,
    blank,
    fill_defaults,
)
from ._decode import Body, Decoder

# hcl argument -> (Go field, kind) tables, per block.
_JOB_ATTRS = {
    "region": ("Region", "string"),
    "namespace": ("Namespace", "string"),
    "id": ("ID", "string"),
    "name": ("Name", "string"),
    "type": ("Type", "string"),
    "priority": ("Priority", "number"),
    "all_at_once": ("AllAtOnce", "bool"),
    "datacenters": ("Datacenters", "list"),
    "node_pool": ("NodePool", "string"),
}
_GROUP_ATTRS = {
    "count": ("Count", "number"),
    "shutdown_delay": ("ShutdownDelay", "duration"),
    "max_run_duration": ("MaxRunDuration", "duration"),
    "stop_after_client_disconnect": ("StopAfterClientDisconnect", "duration"),
    "max_client_disconnect": ("MaxClientDisconnect", "duration"),
    "prevent_reschedule_on_lost": ("PreventRescheduleOnLost", "bool"),
}
_TASK_ATTRS = {
    "driver": ("Driver", "string"),
    "user": ("User", "string"),
    "leader": ("Leader", "bool"),
    "kill_timeout": ("KillTimeout", "duration"),
    "kill_signal": ("KillSignal", "string"),
    "shutdown_delay": ("ShutdownDelay", "duration"),
    "kind": ("Kind", "string"),
}
_UPDATE_ATTRS = {
    "stagger": ("Stagger", "duration"),
    "max_parallel": ("MaxParallel", "number"),
    "health_check": ("HealthCheck", "string"),
    "min_healthy_time": ("MinHealthyTime", "duration"),
    "healthy_deadline": ("HealthyDeadline", "duration"),
    "progress_deadline": ("ProgressDeadline", "duration"),
    "canary": ("Canary", "number"),
    "auto_revert": ("AutoRevert", "bool"),
    "auto_promote": ("AutoPromote", "bool"),
}
_RESTART_ATTRS = {
    "interval": ("Interval", "duration"),
    "attempts": ("Attempts", "number"),
    "delay": ("Delay", "duration"),
    "mode": ("Mode", "string"),
    "render_templates": ("RenderTemplates", "bool"),
}
_RESCHEDULE_ATTRS = {
    "attempts": ("Attempts", "number"),
    "interval": ("Interval", "duration"),
    "delay": ("Delay", "duration"),
    "delay_function": ("DelayFunction", "string"),
    "max_delay": ("MaxDelay", "duration"),
    "unlimited": ("Unlimited", "bool"),
}
_MIGRATE_ATTRS = {
    "max_parallel": ("MaxParallel", "number"),
    "health_check": ("HealthCheck", "string"),
    "min_healthy_time": ("MinHealthyTime", "duration"),
    "healthy_deadline": ("HealthyDeadline", "duration"),
}
_DISK_ATTRS = {"sticky": ("Sticky", "bool"), "migrate": ("Migrate", "bool"), "size": ("SizeMB", "number")}
_LOGS_ATTRS = {
    "max_files": ("MaxFiles", "number"),
    "max_file_size": ("MaxFileSizeMB", "number"),
    "enabled": ("Enabled", "bool"),
    "disabled": ("Disabled", "bool"),
}
_RESOURCES_ATTRS = {
    "cpu": ("CPU", "number"),
    "cores": ("Cores", "number"),
    "memory": ("MemoryMB", "number"),
    "memory_max": ("MemoryMaxMB", "number"),
    "disk": ("DiskMB", "number"),
    "iops": ("IOPS", "number"),
    "secrets": ("SecretsMB", "number"),
}
_NETWORK_ATTRS = {
    "mode": ("Mode", "string"),
    "device": ("Device", "string"),
    "cidr": ("CIDR", "string"),
    "ip": ("IP", "string"),
    "hostname": ("Hostname", "string"),
    "mbits": ("MBits", "number"),
}
_PORT_ATTRS = {
    "static": ("Value", "number"),
    "to": ("To", "number"),
    "host_network": ("HostNetwork", "string"),
    "ignore_collision": ("IgnoreCollision", "bool"),
}
_SERVICE_ATTRS = {
    "name": ("Name", "string"),
    "tags": ("Tags", "list"),
    "canary_tags": ("CanaryTags", "list"),
    "enable_tag_override": ("EnableTagOverride", "bool"),
    "port": ("PortLabel", "string"),
    "address_mode": ("AddressMode", "string"),
    "address": ("Address", "string"),
    "task": ("TaskName", "string"),
    "on_update": ("OnUpdate", "string"),
    "provider": ("Provider", "string"),
    "cluster": ("Cluster", "string"),
    "kind": ("Kind", "string"),
}
_CHECK_ATTRS = {
    "name": ("Name", "string"),
    "type": ("Type", "string"),
    "command": ("Command", "string"),
    "args": ("Args", "list"),
    "path": ("Path", "string"),
    "protocol": ("Protocol", "string"),
    "port": ("PortLabel", "string"),
    "expose": ("Expose", "bool"),
    "address_mode": ("AddressMode", "string"),
    "advertise": ("Advertise", "string"),
    "interval": ("Interval", "duration"),
    "timeout": ("Timeout", "duration"),
    "initial_status": ("InitialStatus", "string"),
    "notes": ("Notes", "string"),
    "tls_server_name": ("TLSServerName", "string"),
    "tls_skip_verify": ("TLSSkipVerify", "bool"),
    "method": ("Method", "string"),
    "grpc_service": ("GRPCService", "string"),
    "grpc_use_tls": ("GRPCUseTLS", "bool"),
    "task": ("TaskName", "string"),
    "success_before_passing": ("SuccessBeforePassing", "number"),
    "failures_before_critical": ("FailuresBeforeCritical", "number"),
    "failures_before_warning": ("FailuresBeforeWarning", "number"),
    "body": ("Body", "string"),
    "on_update": ("OnUpdate", "string"),
}
_CHECK_RESTART_ATTRS = {
    "limit": ("Limit", "number"),
    "grace": ("Grace", "duration"),
    "ignore_warnings": ("IgnoreWarnings", "bool"),
}
_TEMPLATE_ATTRS = {
    "source": ("SourcePath", "string"),
    "destination": ("DestPath", "string"),
    "data": ("EmbeddedTmpl", "string"),
    "change_mode": ("ChangeMode", "string"),
    "change_signal": ("ChangeSignal", "string"),
    "splay": ("Splay", "duration"),
    "perms": ("Perms", "string"),
    "uid": ("Uid", "number"),
    "gid": ("Gid", "number"),
    "left_delimiter": ("LeftDelim", "string"),
    "right_delimiter": ("RightDelim", "string"),
    "env": ("Envvars", "bool"),
    "vault_grace": ("VaultGrace", "duration"),
    "error_on_missing_key": ("ErrMissingKey", "bool"),
    "once": ("Once", "bool"),
}
_ARTIFACT_ATTRS = {
    "source": ("GetterSource", "string"),
    "destination": ("RelativeDest", "string"),
    "mode": ("GetterMode", "string"),
    "insecure": ("GetterInsecure", "bool"),
    "chown": ("Chown", "bool"),
}
_PERIODIC_ATTRS = {
    "enabled": ("Enabled", "bool"),
    "cron": ("Spec", "string"),
    "crons": ("Specs", "list"),
    "prohibit_overlap": ("ProhibitOverlap", "bool"),
    "time_zone": ("TimeZone", "string"),
}
_PARAMETERIZED_ATTRS = {
    "payload": ("Payload", "string"),
    "meta_required": ("MetaRequired", "list"),
    "meta_optional": ("MetaOptional", "list"),
}
_CONSTRAINT_OPERATORS = ("version", "semver", "regexp", "set_contains", "set_contains_all", "set_contains_any")

# Valid in Nomad, but the demo cluster does not model them.
_JOB_UNSUPPORTED = ("vault", "multiregion", "ui", "consul_token", "vault_token", "vault_namespace", "consul_namespace")
_GROUP_UNSUPPORTED = ("volume", "scaling", "consul", "disconnect", "vault")
_TASK_UNSUPPORTED = (
    "vault",
    "consul",
    "volume_mount",
    "csi_plugin",
    "scaling",
    "identity",
    "action",
    "schedule",
    "secret",
)
_SERVICE_UNSUPPORTED = ("connect", "identity")


class JobDecoder:
    """Turns the decoded ``job`` block into api.Job JSON, like jobspec2."""

    def __init__(self, dec: Decoder) -> None:
        self.dec = dec

    def job(self, body: Body, job_id: str) -> dict:
        job = blank(API_JOB_KEYS, Dispatched=False)
        body.check(
            [*_JOB_ATTRS, "meta"],
            {
                "constraint": [],
                "affinity": [],
                "spread": [],
                "group": ["name"],
                "update": [],
                "periodic": [],
                "parameterized": [],
                "reschedule": [],
                "migrate": [],
                "meta": [],
                "task": ["name"],
            },
            _JOB_UNSUPPORTED,
        )
        body.fill(job, _JOB_ATTRS)
        job["Meta"] = body.string_map("meta")
        job["Constraints"] = self._list(body, "constraint", self.constraint)
        job["Affinities"] = self._list(body, "affinity", self.affinity)
        job["Spreads"] = self._list(body, "spread", self.spread)
        job["Update"] = self._single(body, "update", _UPDATE_ATTRS)
        job["Reschedule"] = self._single(body, "reschedule", _RESCHEDULE_ATTRS)
        job["Migrate"] = self._single(body, "migrate", _MIGRATE_ATTRS)
        job["Periodic"] = self._periodic(body)
        job["ParameterizedJob"] = self._single(body, "parameterized", _PARAMETERIZED_ATTRS, zero={"Payload": ""})
        groups = [self.group(labels, group) for labels, group in body.block_list("group")]
        # Job-level tasks each become a group of their own, placed first.
        alone = [
            blank(API_GROUP_KEYS, Name=task["Name"], Tasks=[task])
            for task in (self.task(labels, part) for labels, part in body.block_list("task"))
        ]
        job["TaskGroups"] = (alone + groups) or None
        _normalize(job, job_id)
        return job

    @staticmethod
    def _list(body: Body, name: str, convert: Callable[[Body], dict]) -> list[dict] | None:
        return [convert(part) for _, part in body.block_list(name)] or None

    @staticmethod
    def _single(body: Body, name: str, table: dict[str, tuple[str, str]], zero: dict | None = None) -> dict | None:
        part = body.single(name)
        if part is None:
            return None
        part.check(table)
        out = dict.fromkeys(key for key, _ in table.values())
        out.update(zero or {})
        return part.fill(out, table)

    def constraint(self, body: Body) -> dict:
        attrs = {
            "attribute",
            "value",
            "operator",
            "distinct_hosts",
            "distinct_property",
            "is_set",
            "is_not_set",
            *_CONSTRAINT_OPERATORS,
        }
        body.check(attrs)
        out = {
            "LTarget": body.value("attribute", "string") or "",
            "RTarget": body.value("value", "string") or "",
            "Operand": body.value("operator", "string") or "",
        }
        for operator in ("version", "semver", "regexp", "set_contains"):
            if value := body.value(operator, "string"):
                out["Operand"], out["RTarget"] = operator, value
        if body.value("distinct_hosts", "bool"):
            out["Operand"] = "distinct_hosts"
        if prop := body.value("distinct_property", "string"):
            out["Operand"], out["LTarget"] = "distinct_property", prop
        out["Operand"] = out["Operand"] or "="
        return out

    def affinity(self, body: Body) -> dict:
        body.check({"attribute", "value", "operator", "weight", *_CONSTRAINT_OPERATORS})
        out = {
            "LTarget": body.value("attribute", "string") or "",
            "RTarget": body.value("value", "string") or "",
            "Operand": body.value("operator", "string") or "",
            "Weight": body.value("weight", "number"),
        }
        for operator in ("version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains"):
            if value := body.value(operator, "string"):
                out["Operand"], out["RTarget"] = operator, value
        out["Operand"] = out["Operand"] or "="
        return out

    def spread(self, body: Body) -> dict:
        body.check({"attribute", "weight"}, {"target": [""]})
        targets = []
        for labels, part in body.block_list("target"):
            part.check({"percent"})
            targets.append({"Value": labels[0] if labels else "", "Percent": part.value("percent", "number") or 0})
        return {
            "Attribute": body.value("attribute", "string") or "",
            "Weight": body.value("weight", "number"),
            "SpreadTarget": targets or None,
        }

    @staticmethod
    def _periodic(body: Body) -> dict | None:
        part = body.single("periodic")
        if part is None:
            return None
        part.check(_PERIODIC_ATTRS)
        out = dict.fromkeys(("Enabled", "Spec", "Specs", "SpecType", "ProhibitOverlap", "TimeZone"))
        return part.fill(out, _PERIODIC_ATTRS)

    # -- group ------------------------------------------------------------------
    def group(self, labels: list[str], body: Body) -> dict:
        group = blank(API_GROUP_KEYS, Name=labels[0] if labels else "")
        body.check(
            [*_GROUP_ATTRS, "meta"],
            {
                "constraint": [],
                "affinity": [],
                "spread": [],
                "task": ["name"],
                "restart": [],
                "reschedule": [],
                "ephemeral_disk": [],
                "update": [],
                "migrate": [],
                "network": [],
                "meta": [],
                "service": [],
            },
            _GROUP_UNSUPPORTED,
        )
        body.fill(group, _GROUP_ATTRS)
        group["Meta"] = body.string_map("meta")
        group["Constraints"] = self._list(body, "constraint", self.constraint)
        group["Affinities"] = self._list(body, "affinity", self.affinity)
        group["Spreads"] = self._list(body, "spread", self.spread)
        group["RestartPolicy"] = self._single(body, "restart", _RESTART_ATTRS)
        group["ReschedulePolicy"] = self._single(body, "reschedule", _RESCHEDULE_ATTRS)
        group["EphemeralDisk"] = self._single(body, "ephemeral_disk", _DISK_ATTRS)
        group["Update"] = self._single(body, "update", _UPDATE_ATTRS)
        group["Migrate"] = self._single(body, "migrate", _MIGRATE_ATTRS)
        group["Networks"] = self._list(body, "network", self.network)
        group["Services"] = self._list(body, "service", self.service)
        group["Tasks"] = [self.task(task_labels, task) for task_labels, task in body.block_list("task")] or None
        return group

    def network(self, body: Body) -> dict:
        network = blank(API_NETWORK_KEYS, Mode="", Device="", CIDR="", IP="", Hostname="")
        body.check(_NETWORK_ATTRS, {"port": [""], "reserved_ports": [""], "dns": []}, ("cni",))
        body.fill(network, _NETWORK_ATTRS)
        network["DynamicPorts"] = self._ports(body, "port")
        network["ReservedPorts"] = self._ports(body, "reserved_ports")
        dns = body.single("dns")
        if dns is not None:
            dns.check({"servers", "searches", "options"})
            network["DNS"] = {
                "Servers": dns.value("servers", "list"),
                "Searches": dns.value("searches", "list"),
                "Options": dns.value("options", "list"),
            }
        return network

    @staticmethod
    def _ports(body: Body, name: str) -> list[dict] | None:
        ports = []
        for labels, part in body.block_list(name):
            part.check(_PORT_ATTRS)
            ports.append(part.fill(api_port(labels[0] if labels else ""), _PORT_ATTRS))
        return ports or None

    def service(self, body: Body) -> dict:
        service = api_service_blank()
        body.check(
            [*_SERVICE_ATTRS, "meta", "canary_meta", "tagged_addresses"],
            {"check": [], "check_restart": [], "meta": [], "canary_meta": [], "tagged_addresses": [], "weights": []},
            _SERVICE_UNSUPPORTED,
        )
        body.fill(service, _SERVICE_ATTRS)
        service["Meta"] = body.string_map("meta")
        service["CanaryMeta"] = body.string_map("canary_meta")
        service["TaggedAddresses"] = body.string_map("tagged_addresses")
        service["CheckRestart"] = self._check_restart(body)
        weights = body.single("weights")
        if weights is not None:
            weights.check({"passing", "warning"})
            service["Weights"] = {
                "Passing": weights.value("passing", "number") or 0,
                "Warning": weights.value("warning", "number") or 0,
            }
        service["Checks"] = [self.check(part) for _, part in body.block_list("check")] or None
        return service

    def check(self, body: Body) -> dict:
        check = api_check_blank()
        body.check(_CHECK_ATTRS, {"header": [], "check_restart": []})
        body.fill(check, _CHECK_ATTRS)
        check["CheckRestart"] = self._check_restart(body)
        header = body.single("header")
        if header is not None:
            header.check(header.attrs)
            check["Header"] = {name: header.value(name, "list") or [] for name in header.attrs}
        return check

    def _check_restart(self, body: Body) -> dict | None:
        out = self._single(body, "check_restart", _CHECK_RESTART_ATTRS, zero={"Limit": 0, "IgnoreWarnings": False})
        return out

    # -- task -----------------------------------------------------------------
    def task(self, labels: list[str], body: Body) -> dict:
        task = api_task_blank()
        task["Name"] = labels[0] if labels else ""
        body.check(
            [*_TASK_ATTRS, "meta", "env"],
            {
                "config": [],
                "env": [],
                "meta": [],
                "resources": [],
                "service": [],
                "constraint": [],
                "affinity": [],
                "restart": [],
                "logs": [],
                "artifact": [],
                "template": [],
                "lifecycle": [],
                "dispatch_payload": [],
            },
            _TASK_UNSUPPORTED,
        )
        body.fill(task, _TASK_ATTRS)
        config = body.single("config")
        task["Config"] = config.raw_map() if config is not None else None
        task["Env"] = body.string_map("env")
        task["Meta"] = body.string_map("meta")
        task["Resources"] = self._resources(body)
        task["Services"] = self._list(body, "service", self.service)
        task["Constraints"] = self._list(body, "constraint", self.constraint)
        task["Affinities"] = self._list(body, "affinity", self.affinity)
        task["RestartPolicy"] = self._single(body, "restart", _RESTART_ATTRS)
        task["LogConfig"] = self._single(body, "logs", _LOGS_ATTRS)
        task["Artifacts"] = self._list(body, "artifact", self.artifact)
        task["Templates"] = self._list(body, "template", self.template)
        lifecycle = {"hook": ("Hook", "string"), "sidecar": ("Sidecar", "bool")}
        task["Lifecycle"] = self._single(body, "lifecycle", lifecycle, zero={"Hook": "", "Sidecar": False})
        payload = {"file": ("File", "string")}
        task["DispatchPayload"] = self._single(body, "dispatch_payload", payload, zero={"File": ""})
        return task

    def _resources(self, body: Body) -> dict | None:
        part = body.single("resources")
        if part is None:
            return None
        part.check(_RESOURCES_ATTRS, {"network": []}, ("device", "numa"))
        resources = part.fill(blank(API_RESOURCES_KEYS), _RESOURCES_ATTRS)
        resources["Networks"] = self._list(part, "network", self.network)
        return resources

    def artifact(self, body: Body) -> dict:
        body.check([*_ARTIFACT_ATTRS, "options", "headers"], {"options": [], "headers": []})
        out = blank(
            ("GetterSource", "GetterOptions", "GetterHeaders", "GetterMode", "GetterInsecure", "RelativeDest", "Chown"),
            Chown=False,
        )
        body.fill(out, _ARTIFACT_ATTRS)
        out["GetterOptions"] = body.string_map("options")
        out["GetterHeaders"] = body.string_map("headers")
        return out

    def template(self, body: Body) -> dict:
        body.check(_TEMPLATE_ATTRS, {"wait": [], "change_script": []})
        out = body.fill(blank(API_TEMPLATE_KEYS), _TEMPLATE_ATTRS)
        wait = body.single("wait")
        if wait is not None:
            wait.check({"min", "max"})
            out["Wait"] = {"Min": wait.value("min", "duration"), "Max": wait.value("max", "duration")}
        out["ChangeScript"] = self._single(
            body,
            "change_script",
            {
                "command": ("Command", "string"),
                "args": ("Args", "list"),
                "timeout": ("Timeout", "duration"),
                "fail_on_error": ("FailOnError", "bool"),
            },
        )
        return out


def _normalize(job: dict, job_id: str) -> None:
    """jobspec2's normalizeJob: label defaults, static ports, template defaults."""
    if job["Name"] is None:
        job["Name"] = job_id
    if job["ID"] is None:
        job["ID"] = job_id
    periodic = job["Periodic"]
    if periodic is not None and periodic.get("Spec") is not None:
        periodic["SpecType"] = "cron"
    for group in job["TaskGroups"] or []:
        _normalize_ports(group.get("Networks"))
        for task in group.get("Tasks") or []:
            if task.get("Resources"):
                _normalize_ports(task["Resources"].get("Networks"))
            for template in task.get("Templates") or []:
                fill_defaults(template, ChangeMode="restart", Perms="0644", Splay=5 * SECOND, ErrMissingKey=False)
                script = template.get("ChangeScript")
                if script is not None:
                    fill_defaults(script, Args=[], Timeout=5 * SECOND, FailOnError=False)


def _normalize_ports(networks: list[dict] | None) -> None:
    for network in networks or []:
        ports = network.get("DynamicPorts") or []
        if not ports:
            continue
        network["DynamicPorts"] = [port for port in ports if port["Value"] <= 0] or None
        network["ReservedPorts"] = [port for port in ports if port["Value"] > 0] or None
