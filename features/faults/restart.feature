@integration @faults @restart @p1
Feature: Restarts of workers and queen
  A worker that dies during a long inference and is replaced leaves one registry entry per
  live worker; a queen restarted alone (--no-cascade-shutdown) rebuilds its registry from the
  hives' next heartbeats and jobs resume on the workers that kept running. A hive process
  that crashes and comes back adopts the ready workers it left running.

  @contract.queen.scheduling
  Scenario: A worker dies during a long inference and a new one takes its place
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then the job's stream ends with a marker starting "[ERROR] WORKER_CRASHED" within 2 seconds
    And a job for model "slowllama" completes
    And hive "hive-1" runs 1 worker process for model "slowllama"
    And queen lists 1 ready worker for model "slowllama" on hive "hive-1"
    And the workers of hive "hive-1" have unique ids, ports and pids

  @contract.queen.no-state @contract.queen.registry
  Scenario: Queen restarted with 3 workers registered
    Given a stack with 1 hive where:
      | setting                     | value |
      | queen --no-cascade-shutdown | on    |
    And I ask hive "hive-1" to spawn 3 workers for "tinyllama" at once
    And queen lists 3 ready workers for model "tinyllama" on hive "hive-1"
    When queen restarts
    Then queen lists 3 ready workers for model "tinyllama" on hive "hive-1"
    And a job for model "tinyllama" completes
    And it ran on a worker queen knew before the restart
    And hive "hive-1" runs 3 worker processes for model "tinyllama"

  @cap.adoption
  @contract.hive.adopt
  Scenario: Hive process crashed and back with 3 workers running: the workers are adopted
    Given a stack with 1 hive
    And I ask hive "hive-1" to spawn 3 workers for "tinyllama" at once
    And queen lists 3 ready workers for model "tinyllama" on hive "hive-1"
    When the rbee-hive process of hive "hive-1" is killed with SIGKILL and comes back
    Then hive "hive-1"'s log says "adopted" within 5 seconds
    And hive "hive-1" runs 3 worker processes for model "tinyllama"
    And queen lists 3 ready workers for model "tinyllama" on hive "hive-1"
    And a job for model "tinyllama" completes
    And it ran on a worker queen knew before the restart
    And the workers of hive "hive-1" have unique ids, ports and pids
