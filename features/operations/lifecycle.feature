@integration @operations @lifecycle
Feature: Workers that never become ready, or stay idle, are stopped, and the hive goes on
  A hive gives each worker `--worker-start-timeout` seconds (default 120) to become ready. One
  that is not ready by then is stopped (SIGTERM, then SIGKILL to its process group and cgroup
  after the grace), narrates `worker_start_timeout`, and its job ends with
  `[ERROR] WORKER_START_TIMEOUT`. With `--worker-idle-timeout`, a worker whose `/v1/ready` says
  it has been without a job that long (`idle_s`) is stopped gracefully at the next health check,
  freeing its memory; one with a job never is. Nothing of a stopped worker is left; the hive
  keeps serving.

  @p1
  @contract.hive.start-timeout
  Scenario: A worker stuck before ready is stopped after the start timeout
    Given a stack with 1 hive where:
      | setting                     | value                      |
      | workers                     | hang before they are ready |
      | hive --worker-start-timeout | 3 seconds                  |
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_START_TIMEOUT" between 3 and 20 seconds after it was submitted
    And hive "hive-1" reports the job's spawned worker failed with code "WORKER_START_TIMEOUT"
    And the job's spawned worker has no process, no cgroup and no registry entry left
    And queen lists hive "hive-1" as available

  @p1
  @contract.hive.idle-timeout @contract.worker.ready
  Scenario: An idle worker is stopped after the idle timeout, and the next job starts a new one
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-idle-timeout    | 2 seconds   |
      | hive --worker-health-interval | 0.5 seconds |
    And a completed job for model "tinyllama" on hive "hive-1"
    Then queen stops listing the job's worker between 2 and 6 seconds after the job ended
    And the job's spawned worker has no process, no cgroup and no registry entry left
    And queen lists hive "hive-1" as available
    And the next job for model "tinyllama" starts a new worker

  @p1
  @contract.hive.idle-timeout
  Scenario: A worker with a job is never stopped for idleness
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-idle-timeout    | 2 seconds   |
      | hive --worker-health-interval | 0.5 seconds |
    # about 70 tokens a second here: 600 tokens keep the worker busy for several idle timeouts
    When I submit an infer job for model "slowllama" with 600 max tokens
    Then the job's stream ends with "[DONE]" within 60 seconds
    And the job's stream has no narration "worker_idle_stop"

  @p1
  @contract.hive.binary-not-found
  Scenario Outline: A worker program that is <how> fails the spawn at once and leaves nothing behind
    Given a stack with 1 hive where:
      | setting | value                                              |
      | workers | run from the hive's own copy of the worker program |
    And hive "hive-1"'s worker program is <how>
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_BINARY_NOT_FOUND" within 5 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "<says>"
    And hive "hive-1" has no worker, no worker cgroup and no worker queen knows of
    And queen lists hive "hive-1" as available

    Examples:
      | how            | says              |
      | not executable | is not executable |
      | removed        | not found         |
