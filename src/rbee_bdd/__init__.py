"""rbee_bdd: the harness library the acceptance suite's steps use, in layers (each imports only those below it):

- ``runner``: behave's hooks, parallel runs, the scenario's World, tags, the log scan;
- ``faults``: chaos runs (nemesis, workload, checker) and fuzzing, composed from what is below;
- ``stack``: one scenario's stack, its settings, and the targets (Docker, local) it runs on;
- ``clients``: the daemons' contract from outside: HTTP, SSE, keeper, metrics, credentials, probes;
- ``host``: the host's own view and hands: cgroups, kernel log, network rules, signals, the engine;
- ``reports``: scenario facts, summaries, merged reports, traceability;
- ``core``: cleanups, waiting, identity, the timeline.

docs/architecture.md has the picture in words.
"""
