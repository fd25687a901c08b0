@integration @operations @lifecycle
Feature: A worker that never becomes ready is stopped, and the hive goes on
  A hive gives each worker `--worker-start-timeout` seconds (default 120) to become ready. One
  that is not ready by then is stopped (SIGTERM, then SIGKILL to its process group and cgroup
  after the grace), narrates `worker_start_timeout`, and its job ends with
  `[ERROR] WORKER_START_TIMEOUT`. Nothing of it is left; the hive keeps serving.

  @p1
  Scenario: A worker stuck before ready is stopped after the start timeout
    Given a stack with 1 hive whose workers hang before they are ready, with 3 seconds to start
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_START_TIMEOUT" within 20 seconds
    And hive "hive-1" reports the job's spawned worker failed with code "WORKER_START_TIMEOUT"
    And the job's spawned worker has no process, no cgroup and no registry entry left
    And queen lists hive "hive-1" as available
