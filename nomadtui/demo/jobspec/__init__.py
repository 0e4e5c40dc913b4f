"""Nomad HCL2 job specifications for the demo cluster.

The demo cluster imitates Nomad's HTTP API, so this package reproduces what a real
Nomad agent does with a jobspec, field for field:

* ``parse_hcl``: ``POST /v1/jobs/parse`` (jobspec2 decoding, then api ``Canonicalize``).
* ``to_struct``: register (``ApiJobToStructJob``, struct ``Canonicalize`` and the
  admission mutators), giving the shape ``GET /v1/job/:id`` returns.
* ``validate``: the admission validator (``Job.Validate`` and friends).

Keys are Go field names, durations are integer nanoseconds and nil is ``None``.

Modules, in the order a jobspec goes through them (private: this package's API is what it
exports here):

* ``_hcl``: ``parse_hcl`` and the top level of the file (variables, locals, one job), using
  ``_outline`` (the parse: python-hcl2's values, source positions and HCL syntax errors;
  ``_lalr`` runs python-hcl2's Lark parser and ``_hclvalues`` gives python-hcl2's values
  for its tree, both faster than the libraries themselves), ``_decode`` (HCL bodies and
  values) and ``_jobdecoder`` (the ``job`` block, into the ``_api`` shapes).
* ``_canonical``: api ``Canonicalize`` (``canonicalize_api``).
* ``_structs``: ``to_struct`` and ``job_meta_merged``.
* ``_validation``: ``validate``.
* ``_errors``: ``JobspecError``, go-multierror lists and HCL diagnostics.

Go durations and go-multierror's text are ``nomadtui.wire``'s.
"""

from __future__ import annotations

from ...wire import format_duration, parse_duration
from ._canonical import canonicalize_api
from ._errors import JobspecError
from ._hcl import parse_hcl
from ._structs import job_meta_merged, to_struct
from ._validation import validate

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
