"""Nomad's placement of the reconciler's decisions: a node for every new allocation, or the
metrics of why none fits (scheduler/generic_sched.go's computePlacements, with the feasibility
and ranking of scheduler/feasible/). Pure, like the reconciler: a plan runs it as a dry run.
Only `create_followup_evals` writes: the follow-up evaluations of an evaluation's last write."""

from __future__ import annotations

from collections.abc import Callable

from .reconciler import (
    BATCHED_FAILED_ALLOC_WINDOW_SECONDS,
    FOLLOWUP_DESCRIPTION,
    Decision,
    later_eval_batches,
)
from .store import Store
from .structs import datacenter_matches, group_resources, lookup_task_group

NODE_CPU = 4000
NODE_MEMORY = 8192


def alloc_resources(job: dict, group_name: str) -> tuple[int, int]:
    """The CPU (MHz) and memory (MB) an allocation of the job's group asks for."""
    return group_resources(lookup_task_group(job, group_name))


# computePlacements (scheduler/generic_sched.go)
def assign_nodes(store: Store, job: dict, decision: Decision) -> tuple[dict[int, str], dict[str, dict]]:
    """Choose a node for every placement: ({id(placement): node id}, {group: AllocMetric})."""
    stopping = [a for g in decision.groups.values() for a, _ in g.stop]
    used, per_node_group = proposed_allocs(store, job, stopping)
    in_pool, candidates, feasible = ready_nodes_in_dcs_and_pool(store, job)
    chosen: dict[int, str] = {}
    failures: dict[str, dict] = {}
    for group_name, g in decision.groups.items():
        cpu, mem = alloc_resources(job, group_name)
        for p in g.place:
            fits = [n for n in feasible if used[n["ID"]][0] + cpu <= _cpu(n) and used[n["ID"]][1] + mem <= _memory(n)]
            if not fits:
                failures[group_name] = _failure_metric(
                    failures.get(group_name), in_pool, candidates, feasible, used, cpu, mem, pool=job["NodePool"]
                )
                continue
            node = select_next_option(store, fits, per_node_group, group_name)
            chosen[id(p)] = node["ID"]
            used[node["ID"]][0] += cpu
            used[node["ID"]][1] += mem
            per_node_group[(node["ID"], group_name)] = per_node_group.get((node["ID"], group_name), 0) + 1
    return chosen, failures


def _cpu(node: dict) -> int:
    return node.get("_cpu", NODE_CPU)


def _memory(node: dict) -> int:
    return node.get("_memory", NODE_MEMORY)


# EvalContext.ProposedAllocs (scheduler/feasible/context.go)
def proposed_allocs(
    store: Store, job: dict, stopping: list[dict]
) -> tuple[dict[str, list[int]], dict[tuple[str, str], int]]:
    """What the nodes run once the plan's stops are done: ({node: [cpu, memory]}, {(node, group):
    allocations of this job}). The nodes' usage is kept by the store as allocations change."""
    used: dict[str, list[int]] = {n: list(store.node_usage.get(n, (0, 0))) for n in store.nodes}
    stopped = set()
    for a in stopping:
        stopped.add(a["ID"])
        if (counted := a.get("_counted")) is not None:
            used[counted[0]][0] -= counted[1]
            used[counted[0]][1] -= counted[2]
    per_node_group: dict[tuple[str, str], int] = {}
    # The JobAntiAffinityIterator (scheduler/feasible/rank.go) counts allocations by job ID alone,
    # whatever their namespace.
    same_id = (a for ns in store.namespaces for a in store.allocs_by_job.get((ns, job["ID"]), {}).values())
    for a in same_id:
        if a["ID"] in stopped or a["DesiredStatus"] != "run" or a["ClientStatus"] not in ("pending", "running"):
            continue
        key = (a["NodeID"], a["TaskGroup"])
        per_node_group[key] = per_node_group.get(key, 0) + 1
    return used, per_node_group


# readyNodesInDCsAndPool (scheduler/util.go)
def ready_nodes_in_dcs_and_pool(store: Store, job: dict) -> tuple[list[dict], list[dict], list[dict]]:
    """(the nodes of the job's pool, those ready and eligible, those also in its datacenters)."""
    pool = job.get("NodePool") or "default"
    in_pool = [n for n in store.nodes.values() if pool == "all" or n["NodePool"] == pool]
    candidates = [n for n in in_pool if n["Status"] == "ready" and n["SchedulingEligibility"] == "eligible"]
    feasible = [n for n in candidates if datacenter_matches(job.get("Datacenters"), n["Datacenter"])]
    return in_pool, candidates, feasible


# selectNextOption (scheduler/generic_sched.go): the JobAntiAffinityIterator's spread
# (scheduler/feasible/rank.go), ties broken at random
def select_next_option(
    store: Store, fits: list[dict], per_node_group: dict[tuple[str, str], int], group_name: str
) -> dict:
    best = min(per_node_group.get((n["ID"], group_name), 0) for n in fits)
    return store.rng.choice([n for n in fits if per_node_group.get((n["ID"], group_name), 0) == best])


def _failure_metric(
    previous: dict | None,
    in_pool: list[dict],
    candidates: list[dict],
    feasible: list[dict],
    used: dict[str, list[int]],
    cpu: int,
    mem: int,
    pool: str = "",
) -> dict:
    """The AllocMetric of a group whose placements found no node (coalesced after the first)."""
    if previous is not None:
        previous["CoalescedFailures"] += 1
        return previous
    available: dict[str, int] = {}
    for n in candidates:
        available[n["Datacenter"]] = available.get(n["Datacenter"], 0) + 1
    dims: dict[str, int] = {}
    for n in feasible:
        dim = "cpu" if used[n["ID"]][0] + cpu > _cpu(n) else "memory"
        dims[dim] = dims.get(dim, 0) + 1
    return {
        "NodesEvaluated": len(feasible),
        "NodesFiltered": len(candidates) - len(feasible),
        "NodesInPool": len(in_pool),
        "NodePool": pool,  # computePlacements (scheduler/generic_sched.go): the job's node pool
        "NodesAvailable": available,
        "ClassFiltered": None,
        "ConstraintFiltered": None,
        "NodesExhausted": len(feasible),
        "ClassExhausted": None,
        "DimensionExhausted": dims or None,
        "QuotaExhausted": None,
        "ResourcesExhausted": None,
        "Scores": None,
        "ScoreMetaData": None,
        "AllocationTime": 48_213,
        "CoalescedFailures": 0,
    }


# createRescheduleLaterEvals and createLaterEvals (scheduler/reconciler/reconcile_cluster.go),
# created as GenericScheduler.process does (scheduler/generic_sched.go)
def create_followup_evals(
    store: Store, create_eval: Callable[..., dict], job: dict, decision: Decision, ev: dict
) -> None:
    """Inside the evaluation's last write: per task group, one evaluation for each batch of failed
    allocations to reschedule later, pending until the first of them is due (WaitUntil); the
    first `alloc-reschedule` ("created for delayed rescheduling"), the others `alloc-failure`;
    each allocation gets its FollowupEvalID, `ev` its NextEval. An evaluation that was itself
    delayed creates none (process() skips them); Nomad would still write on the allocations the
    ID of an evaluation it never creates, the demo leaves their FollowupEvalID empty, so that the
    next evaluation of the job takes them up."""
    if ev.get("WaitUntil"):
        return
    window = store.scaled(BATCHED_FAILED_ALLOC_WINDOW_SECONDS)
    batches = [
        batch for g in decision.groups.values() for batch in enumerate(later_eval_batches(g.reschedule_later, window))
    ]
    for i, (when, allocs) in batches:
        follow = create_eval(job, "alloc-failure" if i else "alloc-reschedule", wait_until=when)
        follow["StatusDescription"] = "" if i else FOLLOWUP_DESCRIPTION
        follow["JobModifyIndex"] = job["ModifyIndex"]  # sic: the job's ModifyIndex
        follow["PreviousEval"] = ev["ID"]
        ev["NextEval"] = follow["ID"]
        store.put_eval(follow)
        for alloc in allocs:
            alloc["FollowupEvalID"] = follow["ID"]
            store.put_alloc(alloc)
    if batches:
        store.put_eval(ev)
