"""Nomad HCL2 job specifications for the demo cluster.

The demo cluster imitates Nomad's HTTP API, so this package reproduces what a real
Nomad agent does with a jobspec, field for field:

* ``parse_hcl``: ``POST /v1/jobs/parse`` (jobspec2 decoding, then api ``Canonicalize``).
* ``to_struct``: register (``ApiJobToStructJob``, struct ``Canonicalize`` and the
  admission mutators), giving the shape ``GET /v1/job/:id`` returns.
* ``validate``: the admission validator (``Job.Validate`` and friends).

Keys are Go field names, durations are integer nanoseconds and nil is ``None``.

Modules, in the order a jobspec goes through them:

* ``hcl``: ``parse_hcl`` and the top level of the file (variables, locals, one job), using
  ``outline`` (the parse: python-hcl2's values, source positions and HCL syntax errors;
  ``lalr`` runs python-hcl2's Lark parser and ``hclvalues`` gives python-hcl2's values
  for its tree, both faster than the libraries themselves), ``decode`` (HCL bodies and
  values) and ``jobdecoder`` (the ``job`` block, into the ``api`` shapes).
* ``canonical``: api ``Canonicalize`` (``canonicalize_api``).
* ``structs``: ``to_struct`` and ``job_meta_merged``.
* ``validation``: ``validate``.
* ``durations`` and ``errors``: Go durations, ``JobspecError``, go-multierror and HCL diagnostics.
"""

from __future__ import annotations

from .canonical import canonicalize_api
from .durations import format_duration, parse_duration
from .errors import JobspecError
from .hcl import parse_hcl
from .structs import job_meta_merged, to_struct
from .validation import validate

__all__ = [
    "JobspecError",
    "canonicalize_api",
    "format_duration",
    "job_meta_merged",
    "parse_duration",
    "parse_hcl",
    "to_struct",
    "validate",
]
