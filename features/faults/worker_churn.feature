@integration @faults @worker-churn @p1
@contract.hive.spawn @contract.hive.stop-worker @contract.hive.heartbeat
Feature: Worker churn
  Workers spawned and stopped in bursts leave the hive's and queen's registries in step with
  the real process table: every id, port and pid unique, nothing stopped left running, no
  leftover cgroup.

  Background:
    Given a stack with 1 hive

  Scenario: Spawn 5 at once, stop 3, spawn 2
    When I ask hive "hive-1" to spawn 5 workers for "tinyllama" at once
    Then all the spawned workers are ready within 60 seconds
    When I stop 3 of the spawned workers
    And I ask hive "hive-1" to spawn 2 workers for "tinyllama" at once
    Then all the spawned workers are ready within 60 seconds
    And hive "hive-1" runs 4 worker processes for model "tinyllama"
    And queen lists 4 ready workers for model "tinyllama" on hive "hive-1"
    And the workers of hive "hive-1" have unique ids, ports and pids
    And the stopped workers have no process and no cgroup left

  Scenario: 10 workers registering at once are all listed once
    When I ask hive "hive-1" to spawn 10 workers for "tinyllama" at once
    Then all the spawned workers are ready within 90 seconds
    And hive "hive-1" runs 10 worker processes for model "tinyllama"
    And queen lists 10 ready workers for model "tinyllama" on hive "hive-1"
    And the workers of hive "hive-1" have unique ids, ports and pids
