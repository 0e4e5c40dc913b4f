"""The request structs Nomad's HTTP agent decodes bodies into, for gojson.decode: the fields the
demo reads, with their Go types. Fields left out are ignored, as Go ignores unknown fields.

From Nomad's api package (api/jobs.go, api/tasks.go, api/services.go, api/resources.go,
api/constraint.go, api/affinity.go, api/scaling.go) and nomad/structs/structs.go.
"""

from __future__ import annotations

from .gojson import ANY, BOOL, BYTES, DURATION, INT, INT8, INT64, STRING, UINT8, UINT64, Map, Ptr, Slice, Struct


def _ptr_struct(name: str, **fields) -> Ptr:
    return Ptr(Struct(name, fields))


STRINGS = Slice(STRING)
STRING_MAP = Map(STRING)

# api/constraint.go, api/affinity.go, api/jobs.go (Spread)
CONSTRAINTS = Slice(_ptr_struct("api.Constraint", LTarget=STRING, RTarget=STRING, Operand=STRING))
AFFINITIES = Slice(_ptr_struct("api.Affinity", LTarget=STRING, RTarget=STRING, Operand=STRING, Weight=Ptr(INT8)))
SPREADS = Slice(
    _ptr_struct(
        "api.Spread",
        Attribute=STRING,
        Weight=Ptr(INT8),
        SpreadTarget=Slice(_ptr_struct("api.SpreadTarget", Value=STRING, Percent=UINT8)),
    )
)

# api/jobs.go UpdateStrategy; api/tasks.go RestartPolicy, ReschedulePolicy, MigrateStrategy
UPDATE = _ptr_struct(
    "api.UpdateStrategy",
    Stagger=Ptr(DURATION),
    MaxParallel=Ptr(INT),
    HealthCheck=Ptr(STRING),
    MinHealthyTime=Ptr(DURATION),
    HealthyDeadline=Ptr(DURATION),
    ProgressDeadline=Ptr(DURATION),
    Canary=Ptr(INT),
    AutoRevert=Ptr(BOOL),
    AutoPromote=Ptr(BOOL),
)
RESTART = _ptr_struct(
    "api.RestartPolicy",
    Interval=Ptr(DURATION),
    Attempts=Ptr(INT),
    Delay=Ptr(DURATION),
    Mode=Ptr(STRING),
    RenderTemplates=Ptr(BOOL),
)
RESCHEDULE = _ptr_struct(
    "api.ReschedulePolicy",
    Attempts=Ptr(INT),
    Interval=Ptr(DURATION),
    Delay=Ptr(DURATION),
    DelayFunction=Ptr(STRING),
    MaxDelay=Ptr(DURATION),
    Unlimited=Ptr(BOOL),
)
MIGRATE = _ptr_struct(
    "api.MigrateStrategy",
    MaxParallel=Ptr(INT),
    HealthCheck=Ptr(STRING),
    MinHealthyTime=Ptr(DURATION),
    HealthyDeadline=Ptr(DURATION),
)

# api/resources.go
PORTS = Slice(
    Struct("api.Port", {"Label": STRING, "Value": INT, "To": INT, "HostNetwork": STRING, "IgnoreCollision": BOOL})
)
NETWORKS = Slice(
    _ptr_struct(
        "api.NetworkResource",
        Mode=STRING,
        Device=STRING,
        CIDR=STRING,
        IP=STRING,
        DNS=_ptr_struct("api.DNSConfig", Servers=STRINGS, Searches=STRINGS, Options=STRINGS),
        ReservedPorts=PORTS,
        DynamicPorts=PORTS,
        Hostname=STRING,
        MBits=Ptr(INT),
        CNI=_ptr_struct("api.CNIConfig", Args=STRING_MAP),
    )
)
RESOURCES = _ptr_struct(
    "api.Resources",
    CPU=Ptr(INT),
    Cores=Ptr(INT),
    MemoryMB=Ptr(INT),
    MemoryMaxMB=Ptr(INT),
    DiskMB=Ptr(INT),
    Networks=NETWORKS,
    SecretsMB=Ptr(INT),
    IOPS=Ptr(INT),
)

# api/services.go
CHECK_RESTART = _ptr_struct("api.CheckRestart", Limit=INT, Grace=Ptr(DURATION), IgnoreWarnings=BOOL)
CHECK = Struct(
    "api.ServiceCheck",
    {
        "Name": STRING,
        "Type": STRING,
        "Command": STRING,
        "Args": STRINGS,
        "Path": STRING,
        "Protocol": STRING,
        "PortLabel": STRING,
        "Expose": BOOL,
        "AddressMode": STRING,
        "Advertise": STRING,
        "Interval": DURATION,
        "Timeout": DURATION,
        "InitialStatus": STRING,
        "Notes": STRING,
        "TLSServerName": STRING,
        "TLSSkipVerify": BOOL,
        "Header": Map(STRINGS),
        "Method": STRING,
        "CheckRestart": CHECK_RESTART,
        "GRPCService": STRING,
        "GRPCUseTLS": BOOL,
        "TaskName": STRING,
        "SuccessBeforePassing": INT,
        "FailuresBeforeCritical": INT,
        "FailuresBeforeWarning": INT,
        "Body": STRING,
        "OnUpdate": STRING,
    },
)
IDENTITY = _ptr_struct(
    "api.WorkloadIdentity",
    Name=STRING,
    Audience=STRINGS,
    ChangeMode=STRING,
    ChangeSignal=STRING,
    Env=BOOL,
    File=BOOL,
    Filepath=STRING,
    ServiceName=STRING,
    TTL=DURATION,
    ExtraClaims=STRINGS,
)
SERVICES = Slice(
    _ptr_struct(
        "api.Service",
        Name=STRING,
        Tags=STRINGS,
        CanaryTags=STRINGS,
        EnableTagOverride=BOOL,
        PortLabel=STRING,
        AddressMode=STRING,
        Address=STRING,
        Checks=Slice(CHECK),
        CheckRestart=CHECK_RESTART,
        Meta=STRING_MAP,
        CanaryMeta=STRING_MAP,
        TaggedAddresses=STRING_MAP,
        TaskName=STRING,
        OnUpdate=STRING,
        Identity=IDENTITY,
        Weights=_ptr_struct("api.ServiceWeights", Passing=INT, Warning=INT),
        Provider=STRING,
        Cluster=STRING,
        Kind=STRING,
    )
)

# api/tasks.go
TEMPLATE = _ptr_struct(
    "api.Template",
    SourcePath=Ptr(STRING),
    DestPath=Ptr(STRING),
    EmbeddedTmpl=Ptr(STRING),
    ChangeMode=Ptr(STRING),
    ChangeScript=_ptr_struct(
        "api.ChangeScript",
        Command=Ptr(STRING),
        Args=STRINGS,
        Timeout=Ptr(DURATION),
        FailOnError=Ptr(BOOL),
        RunOnFirstRender=Ptr(BOOL),
    ),
    ChangeSignal=Ptr(STRING),
    Once=Ptr(BOOL),
    Splay=Ptr(DURATION),
    Perms=Ptr(STRING),
    Uid=Ptr(INT),
    Gid=Ptr(INT),
    LeftDelim=Ptr(STRING),
    RightDelim=Ptr(STRING),
    Envvars=Ptr(BOOL),
    VaultGrace=Ptr(DURATION),
    Wait=_ptr_struct("api.WaitConfig", Min=Ptr(DURATION), Max=Ptr(DURATION)),
    ErrMissingKey=Ptr(BOOL),
)
ARTIFACT = _ptr_struct(
    "api.TaskArtifact",
    GetterSource=Ptr(STRING),
    GetterOptions=STRING_MAP,
    GetterHeaders=STRING_MAP,
    GetterMode=Ptr(STRING),
    GetterInsecure=Ptr(BOOL),
    RelativeDest=Ptr(STRING),
    Chown=BOOL,
)
TASK = _ptr_struct(
    "api.Task",
    Name=STRING,
    Driver=STRING,
    User=STRING,
    Lifecycle=_ptr_struct("api.TaskLifecycle", Hook=STRING, Sidecar=BOOL),
    Config=Map(ANY),
    Constraints=CONSTRAINTS,
    Affinities=AFFINITIES,
    Env=STRING_MAP,
    Services=SERVICES,
    Resources=RESOURCES,
    RestartPolicy=RESTART,
    Meta=STRING_MAP,
    KillTimeout=Ptr(DURATION),
    LogConfig=_ptr_struct(
        "api.LogConfig", MaxFiles=Ptr(INT), MaxFileSizeMB=Ptr(INT), Enabled=Ptr(BOOL), Disabled=Ptr(BOOL)
    ),
    Artifacts=Slice(ARTIFACT),
    Templates=Slice(TEMPLATE),
    DispatchPayload=_ptr_struct("api.DispatchPayloadConfig", File=STRING),
    Leader=BOOL,
    ShutdownDelay=DURATION,
    KillSignal=STRING,
    Kind=STRING,
)
TASK_GROUP = _ptr_struct(
    "api.TaskGroup",
    Name=Ptr(STRING),
    Count=Ptr(INT),
    Constraints=CONSTRAINTS,
    Affinities=AFFINITIES,
    Tasks=Slice(TASK),
    Spreads=SPREADS,
    RestartPolicy=RESTART,
    Disconnect=_ptr_struct(
        "api.DisconnectStrategy",
        LostAfter=Ptr(DURATION),
        StopOnClientAfter=Ptr(DURATION),
        Replace=Ptr(BOOL),
        Reconcile=Ptr(STRING),
    ),
    ReschedulePolicy=RESCHEDULE,
    EphemeralDisk=_ptr_struct("api.EphemeralDisk", Sticky=Ptr(BOOL), Migrate=Ptr(BOOL), SizeMB=Ptr(INT)),
    Update=UPDATE,
    Migrate=MIGRATE,
    Networks=NETWORKS,
    Meta=STRING_MAP,
    Services=SERVICES,
    ShutdownDelay=Ptr(DURATION),
    MaxRunDuration=Ptr(DURATION),
    StopAfterClientDisconnect=Ptr(DURATION),
    MaxClientDisconnect=Ptr(DURATION),
    # Only whether it is set matters (system jobs refuse it); api/scaling.go holds the rest.
    Scaling=_ptr_struct("api.ScalingPolicy"),
    Consul=_ptr_struct("api.Consul", Namespace=STRING, Cluster=STRING, Partition=STRING),
    PreventRescheduleOnLost=Ptr(BOOL),
)

# api/jobs.go
JOB = _ptr_struct(
    "api.Job",
    Region=Ptr(STRING),
    Namespace=Ptr(STRING),
    ID=Ptr(STRING),
    Name=Ptr(STRING),
    Type=Ptr(STRING),
    Priority=Ptr(INT),
    AllAtOnce=Ptr(BOOL),
    Datacenters=STRINGS,
    NodePool=Ptr(STRING),
    Constraints=CONSTRAINTS,
    Affinities=AFFINITIES,
    TaskGroups=Slice(TASK_GROUP),
    Update=UPDATE,
    Spreads=SPREADS,
    Periodic=_ptr_struct(
        "api.PeriodicConfig",
        Enabled=Ptr(BOOL),
        Spec=Ptr(STRING),
        Specs=STRINGS,
        SpecType=Ptr(STRING),
        ProhibitOverlap=Ptr(BOOL),
        TimeZone=Ptr(STRING),
    ),
    ParameterizedJob=_ptr_struct(
        "api.ParameterizedJobConfig", Payload=STRING, MetaRequired=STRINGS, MetaOptional=STRINGS
    ),
    Reschedule=RESCHEDULE,
    Migrate=MIGRATE,
    Meta=STRING_MAP,
    UI=_ptr_struct(
        "api.JobUIConfig", Description=STRING, Links=Slice(_ptr_struct("api.JobUILink", Label=STRING, URL=STRING))
    ),
    Stop=Ptr(BOOL),
    ParentID=Ptr(STRING),
    Dispatched=BOOL,
    Payload=BYTES,
    ConsulNamespace=Ptr(STRING),
    VaultNamespace=Ptr(STRING),
    NomadTokenID=Ptr(STRING),
)

API_WRITE_REQUEST = Struct("api.WriteRequest", {"Region": STRING, "Namespace": STRING, "SecretID": STRING})

JOB_REGISTER_REQUEST = Struct(
    "api.JobRegisterRequest",
    {
        "Submission": _ptr_struct(
            "api.JobSubmission", Source=STRING, Format=STRING, VariableFlags=STRING_MAP, Variables=STRING
        ),
        "Job": JOB,
        "EnforceIndex": BOOL,
        "JobModifyIndex": UINT64,
        "PolicyOverride": BOOL,
        "PreserveCounts": BOOL,
        "PreserveResources": BOOL,
        "EvalPriority": INT,
    },
    (API_WRITE_REQUEST,),
)
JOB_PLAN_REQUEST = Struct(
    "api.JobPlanRequest", {"Job": JOB, "Diff": BOOL, "PolicyOverride": BOOL}, (API_WRITE_REQUEST,)
)
JOBS_PARSE_REQUEST = Struct("api.JobsParseRequest", {"JobHCL": STRING, "Variables": STRING, "Canonicalize": BOOL})

# nomad/structs/structs.go: the agent decodes these endpoints' bodies into server structs.
WRITE_REQUEST = Struct(
    "structs.WriteRequest",
    {
        "Region": STRING,
        "Namespace": STRING,
        "AuthToken": STRING,
        "IdempotencyToken": STRING,
    },
    (Struct("structs.InternalRpcInfo", {"Forwarded": BOOL}),),
)


def _write(name: str, **fields) -> Struct:
    return Struct(name, fields, (WRITE_REQUEST,))


JOB_REVERT_REQUEST = _write(
    "structs.JobRevertRequest", JobID=STRING, JobVersion=UINT64, EnforcePriorVersion=Ptr(UINT64)
)
JOB_STABILITY_REQUEST = _write("structs.JobStabilityRequest", JobID=STRING, JobVersion=UINT64, Stable=BOOL)
JOB_EVALUATE_REQUEST = _write(
    "structs.JobEvaluateRequest", JobID=STRING, EvalOptions=Struct("structs.EvalOptions", {"ForceReschedule": BOOL})
)
DEPLOYMENT_REQUESTS = {
    "promote": _write(
        "structs.DeploymentPromoteRequest", DeploymentID=STRING, All=BOOL, Groups=STRINGS, PromotedAt=INT64
    ),
    "pause": _write("structs.DeploymentPauseRequest", DeploymentID=STRING, Pause=BOOL),
    "allocation-health": _write(
        "structs.DeploymentAllocHealthRequest",
        DeploymentID=STRING,
        HealthyAllocationIDs=STRINGS,
        UnhealthyAllocationIDs=STRINGS,
    ),
}

# allocRestart's own body (command/agent/alloc_endpoint.go): an unnamed struct, so its type errors
# name no struct (`Go struct field .AllTasks of type bool`).
ALLOC_RESTART_BODY = Struct("", {"TaskName": STRING, "AllTasks": BOOL})
