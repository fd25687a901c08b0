@integration @inference @failover @p1
Feature: Worker failover
  A worker lost before the job's first token reached the client costs the client nothing:
  queen runs the job once more on another worker. A worker lost after tokens were sent
  ends the job with WORKER_CRASHED; queen never replays it, so no token is ever repeated.

  Background:
    Given a stack with 1 hive

  Scenario: The worker dies before its first token: the job runs again on another worker
    Given a completed job for model "tinyllama"
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

  Scenario: The worker dies after tokens were sent: the job fails and no token repeats
    Given a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then the job's stream ends with a marker starting "[ERROR] WORKER_CRASHED" within 2 seconds
    And every stream's token indexes increase strictly from 0
    And the job's stream has no narration "job_retry"
