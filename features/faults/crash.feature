@integration @faults @crash @p1
Feature: Crashes: workers and hives killed with SIGKILL
  A worker SIGKILLed mid-stream ends its job with WORKER_CRASHED at once and is dropped
  everywhere; one lost before the job's first token costs the client nothing, because queen
  runs the job once more on another worker (and never replays one that sent tokens). A hive
  SIGKILLed is marked unavailable after the staleness bound, and what only it could serve is
  refused at once with a clear error. A worker that stops sending mid-stream while it lives (hung,
  SIGSTOPped) ends its job with WORKER_STALLED after queen's stall bound, and is stopped.

  @failover
  @contract.queen.no-replay @contract.hive.reap
  Scenario: A worker killed mid-stream: the stream ends at once and the worker is dropped
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then the job's stream ends with a marker starting "[ERROR] WORKER_CRASHED" within 2 seconds
    And every stream's token indexes increase strictly from 0
    And the job's stream has no narration "job_retry"
    And hive "hive-1" reports the job's worker ended "killed by SIGKILL"
    And queen no longer lists the job's worker within 1 second
    And a job for model "slowllama" completes

  @failover @cap.failover
  @contract.queen.failover
  Scenario: The worker dies before its first token: the job runs again on another worker
    Given a stack with 1 hive
    And a completed job for model "tinyllama"
    And the "tinyllama" worker of hive "hive-1" is paused with SIGSTOP
    When I submit an infer job for model "tinyllama" with 24 max tokens and seed 3
    And queen has sent the job to the paused worker
    And the paused worker is killed with SIGKILL
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream has narration "job_retry" from "queen-rbee" mentioning "before the first token"
    And the job ran on another worker than the paused one
    And every stream's token indexes increase strictly from 0
    When I submit the same infer job again and it completes
    Then the last two completions are identical

  @contract.queen.unavailable @contract.queen.registry
  Scenario: A hive killed: unavailable after the staleness bound, its work refused at once
    Given a stack with 2 hives
    And a completed job for model "tinyllama" on hive "hive-1"
    When hive "hive-1" is killed with SIGKILL
    Then queen marks hive "hive-1" unavailable between 2 and 6 seconds after it went silent
    And a new job for model "tinyllama" on hive "hive-1" is refused with 503 and code "HIVE_UNAVAILABLE"
    And a job for model "tinyllama" completes

  @failover
  @contract.queen.failover
  Scenario: A worker killed while it starts for a job: the job runs on a new worker, and the client sees no error
    Given a stack with 1 hive where:
      | setting | value                |
      | workers | start 4 seconds late |
    When I submit an infer job for model "tinyllama" with 8 max tokens
    And the job's spawned worker on hive "hive-1" is killed with SIGKILL while it starts
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream has narration "job_retry" from "queen-rbee"
    And the job ran on another worker than the killed one

  @contract.queen.worker-stall
  Scenario: A worker that stops sending mid-stream ends its job with WORKER_STALLED, is stopped, and the next job gets a new worker
    Given a stack with 1 hive where:
      | setting                      | value     |
      | queen --worker-stall-timeout | 3 seconds |
      | hive --worker-stop-grace     | 1 second  |
    And a job for model "slowllama" with 400 max tokens is streaming on hive "hive-1"
    And the "slowllama" worker of hive "hive-1" is paused with SIGSTOP
    Then the job's stream ends with a marker starting "[ERROR] WORKER_STALLED" between 2.5 and 9 seconds after the worker was paused
    And the paused worker has no process, no cgroup and no registry entry left
    And hive "hive-1" has no zombie process within 2 seconds
    And the next job for model "slowllama" starts a new worker
