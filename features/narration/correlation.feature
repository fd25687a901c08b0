@integration @narration @correlation @p0 @cap.correlation
@contract.queen.correlation-id
Feature: One correlation id follows a job through every daemon
  A client's X-Correlation-ID (or one queen mints) is in queen's answer, on every narration
  event, in the requests to hive and worker, in the spawned worker's environment and in
  each daemon's log lines for the job. An ill-formed one is replaced, not trusted.

  Background:
    Given a stack with 1 hive

  @contract.hive.worker-command
  Scenario: A client's correlation id is used everywhere
    When I submit an infer job for model "tinyllama" with correlation id "test-corr-42"
    Then the job's stream ends with "[DONE]" within 30 seconds
    And queen answered with correlation id "test-corr-42"
    And every narration event on the job's stream carries queen's correlation id
    And the job's worker process has queen's correlation id as CORRELATION_ID
    And the logs of queen and hive "hive-1" and its worker mention queen's correlation id

  Scenario: Without one, queen mints a correlation id and uses it everywhere
    When I submit an infer job for model "tinyllama" without a correlation id
    Then the job's stream ends with "[DONE]" within 30 seconds
    And queen answered with a well-formed correlation id of its own
    And every narration event on the job's stream carries queen's correlation id
    And the job's worker process has queen's correlation id as CORRELATION_ID

  Scenario: An ill-formed correlation id is replaced
    When I submit an infer job for model "tinyllama" with correlation id "bad id; rm -rf /"
    Then the job's stream ends with "[DONE]" within 30 seconds
    And queen answered with a well-formed correlation id of its own
    And every narration event on the job's stream carries queen's correlation id

  @contract.sse.narration
  Scenario: A warm worker narrates with the current job's id and correlation id, not its first job's
    Given a completed job for model "tinyllama"
    When I submit an infer job for model "tinyllama" with correlation id "second-job-8"
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job ran on the same worker as the previous job
    And the job's stream has narration "infer_start" from "llm-worker-rbee"
    And every narration event on the job's stream carries queen's correlation id
    And every narration event on the job's stream carries the job's id
