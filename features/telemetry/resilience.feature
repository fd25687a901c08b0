@integration @telemetry @p1
Feature: Telemetry survives restarts, an absent queen, missing rights and slow readers

  @contract.queen.no-state @contract.hive.heartbeat-first
  Scenario: Queen restarts and rebuilds its registry from the next heartbeats
    Given a stack with 1 hive where:
      | setting                     | value |
      | queen --no-cascade-shutdown | on    |
    And a completed job for model "tinyllama"
    When queen restarts
    Then queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    And a job for model "tinyllama" completes
    And it ran on a worker queen knew before the restart

  @contract.hive.adopt
  Scenario: A hive that restarts clears the workers it ran before
    Given a stack with 1 hive
    And a completed job for model "tinyllama"
    When hive "hive-1" restarts
    Then hive "hive-1" runs 0 worker processes for model "tinyllama"
    And queen lists 0 ready workers for model "tinyllama" on hive "hive-1"
    And a job for model "tinyllama" completes


  @contract.hive.heartbeat-backoff
  Scenario: While queen is away the hive keeps serving, and it catches up when queen returns
    Given a stack with 1 hive where:
      | setting                     | value |
      | queen --no-cascade-shutdown | on    |
    When queen is stopped
    Then hive "hive-1" still answers and spawns a ready worker for "tinyllama"
    And hive "hive-1"'s log says "retrying with backoff" within 5 seconds
    When queen is started again
    Then queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    And hive "hive-1"'s log says "reachable again" within 10 seconds

  @cap.cgroup-telemetry
  @contract.hive.cgroups-degraded @contract.hive.capabilities
  Scenario: Without the rights to write cgroups, spawning still works and capabilities say so
    Given a stack with 1 hive where:
      | setting      | value |
      | hive cgroups | none  |
    Then hive "hive-1" reports cgroups as degraded because they are not writable
    And a job for model "tinyllama" completes
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"

  @needs.cgroups @cap.cgroup-telemetry
  @contract.hive.cgroups
  Scenario: With the rights, each worker runs in its own cgroup under the limits asked for
    Given a stack with 1 hive
    Then hive "hive-1" reports cgroups as enabled
    When I spawn a worker for "tinyllama" on hive "hive-1" with CPU limit "50000 100000" and memory limit "512M"
    Then the worker's process runs in a cgroup with a CPU quota of 50000 per 100000 µs and 512 MiB of memory

  @cap.ui-stream
  @contract.queen.ui-drop @contract.queen.ui-subscribers
  Scenario: A UI subscriber that stops reading is dropped, the others keep their rhythm
    Given a stack with 1 hive where:
      | setting           | value |
      | queen --ui-buffer | 8     |
    And I watch queen's heartbeat stream
    And a UI subscriber that never reads
    When another hive sends heartbeats of 100 workers 20 times a second for up to 30 seconds
    Then queen drops the subscriber that never reads within 30 seconds
    And meanwhile the watching stream got hive "hive-1"'s heartbeats at least every 1.5 seconds
