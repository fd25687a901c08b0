"""The Stack's facets: one job each (faults, processes, telemetry, security, provisioning, keeper), reached as
``stack.faults``, ``stack.processes`` and so on; the Stack itself keeps the lifecycle and the node map."""
