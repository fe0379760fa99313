"""``python -m lab bench-overhead``: where the service's CPU outside bcrypt goes as users grow.

Its rooms: ``settings`` (what to run, checked), ``threads`` (every thread's CPU and
context switches, sampled and cut to the window), ``attached`` (a tool attached to the
service for a phase of its own), ``strace`` (system calls counted by ``strace -c`` in a phase
before the window), ``profile`` (the event-loop thread's CPU by where it ran, from py-spy's
samples in the next phase), ``rows`` (one VU count's figures per iteration, pure),
``table`` (the markdown tables), ``measure`` (one VU count against a real service instance)
and ``command`` (the runs, the report files and the command line).
"""
