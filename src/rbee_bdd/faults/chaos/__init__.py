"""Chaos runs judged by a checker, after Jepsen: a seeded nemesis injects real faults (and always
heals them) while clients run jobs; every invocation, event, fault and heal goes into a history;
the checker then judges the history against the invariants the contract promises.

- ``history``: the JSON-lines history and its events;
- ``checker``: the invariants, a pure function of a history (unit-tested on hand-made ones);
- ``nemesis``: the fault schedule drawn from the seed, and the faults themselves;
- ``workload``: the clients;
- ``run``: one run end to end (``python -m rbee_bdd.faults.chaos``, ``make chaos``).
"""
