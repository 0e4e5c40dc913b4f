"""Nomad's job diff, plan annotations and in-place/destructive rule, on server-shape job dicts.

A Python rendering of what `nomad/structs/diff.go` (`Job.Diff`), `scheduler/annotate.go`
(`Annotate`) and `scheduler/util.go` (`tasksUpdated`) do, so the demo cluster's
`/v1/job/:id/plan` and `/v1/job/:id/versions?diffs=true` answer field for field like a real
server. (The CLI's text of a diff is `nomadtui.difftext`: the TUI prints diffs from any Nomad.)

Inputs are jobs as `GET /v1/job/:id` returns them (PascalCase keys, durations in integer
nanoseconds). Missing keys and nulls count as the Go zero value.

Modules (private: this package's API is what it exports here):

* `_diff`: `job_diff`, built from `_shapes` (struct shapes and flatmap), `_primitives`
  (equality, ordering, field/object/set diffs) and `_parts` (networks, services, templates, ...).
* `_annotate`: `annotate_plan`.
* `_updated`: `tasks_updated`.
"""

from __future__ import annotations

from ._annotate import annotate_plan
from ._diff import job_diff
from ._updated import tasks_updated

__all__ = ["annotate_plan", "job_diff", "tasks_updated"]
