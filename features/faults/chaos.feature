@integration @faults @chaos @slow @p1
Feature: Under seeded random faults, every job's history holds the contract's invariants
  A nemesis drawn from a seed kills and pauses workers, pauses and restarts hives and queen,
  OOM-kills workers by filling their memory cgroup from outside (where the machine has cgroups and
  the kernel's log), and, where each node has a network namespace of its own, partitions hives
  from queen and from one of their workers; at most one fault at a time, each healed after a few
  seconds, while clients submit jobs of known parameters, read them, cancel some and drop some.
  Every invocation, event, fault and heal goes into a history, which the checker judges
  afterwards: one end per job, in time; tokens in order, and byte for byte the fault-free
  completion (or a prefix of it); a job lost only when queen was restarted under it; no retry
  after a first token; queen's registry converged on the real process tables; nothing left
  reserved or open; memory bounded. `make chaos SEED=… DURATION=…` runs the same for longer.

  @contract.queen.failover @contract.queen.no-replay @contract.queen.no-state @contract.sse.token @contract.sse.terminal @contract.worker.seed @contract.queen.job-state
  Scenario: 45 seconds of seeded faults against 3 clients leave no violation
    Given a stack with 2 hives where:
      | setting                    | value   |
      | hive --max-workers         | 2       |
      | hive --worker-memory-limit | 256 MiB |
    When a chaos run with seed 7 injects faults for 45 seconds against 3 clients
    Then the checker finds no violation in the run's history
