"""Reporting: from measurements to the report a reader opens.

- The model: ``results`` (the typed results of a bench), ``codec`` (its one mapping to and
  from results.json), ``records`` (a load generator's JSON → one run), ``ceiling`` (the
  bcrypt ceiling, measured and kept), ``soundness`` (when a run measured a steady state),
  ``breakdown`` (where a request's time went), ``versions`` (what ran).
- The judgement: ``mission`` (the original experiment's figures and the targets),
  ``verdict`` (classification into typed findings, then prose), ``fit`` (Amdahl and USL).
- The report: ``report`` (the files and the terminal table), ``sections``, ``tables``,
  ``capacity``, ``charts`` and ``page`` (Markdown, HTML, text).
"""
