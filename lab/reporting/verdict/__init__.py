"""The verdict: what the measurements say, judged against `lab.reporting.mission`.

- `classify`: what limited each run, by how much, what scale-out bought — measurements in,
  typed findings out, no words.
- `prose`: the sentences about one series, written from those findings.
- `timing`: the sentences on where a request's time went (the servers' timings).
- `sentences`: the verdict in order, as a list or grouped by series for the report.
- `targets`: the done-when targets, checked.
- `answer`: the report's opening lines.
"""
