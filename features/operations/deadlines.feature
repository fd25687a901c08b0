@integration @operations @deadline @cap.deadlines
Feature: Every job has a deadline, which a hop may shorten but never extend
  A job's deadline is the soonest of `timeout_s` from now (queen's `--default-job-timeout`,
  default 600 s, when the body gives none) and the caller's own `X-Request-Deadline` (epoch ms).
  Queen passes the result on to the worker, which stops generating when it passes. A deadline
  that passes while the job's worker is still starting ends the job with `[ERROR] TIMEOUT`; the
  worker goes on starting and serves the next job.

  @p1
  @contract.queen.deadlines
  Scenario: A job without timeout_s gets queen's default deadline
    Given a stack with 1 hive where:
      | setting                     | value     |
      | queen --default-job-timeout | 3 seconds |
    And a completed job for model "slowllama" on hive "hive-1"
    When I submit an infer job for model "slowllama" with 3000 max tokens
    Then the job's stream ends with a marker starting "[ERROR] TIMEOUT" between 3 and 6 seconds after it was submitted
    And the job's stream has narration "infer_timeout" from "llm-worker-rbee"

  @p1
  @contract.queen.deadlines @contract.queen.deadline-header
  Scenario Outline: The sooner of timeout_s and the caller's deadline holds (<sooner>)
    Given a stack with 1 hive
    And a completed job for model "slowllama" on hive "hive-1"
    When I submit an infer job for model "slowllama" with 3000 max tokens, timeout_s <timeout> and a deadline <deadline> seconds away
    Then the job's stream ends with a marker starting "[ERROR] TIMEOUT" between 3 and 6 seconds after it was submitted
    And the job's stream has narration "infer_timeout" from "llm-worker-rbee"

    Examples:
      | sooner                 | timeout | deadline |
      | the caller's deadline  | 600     | 3        |
      | timeout_s              | 3       | 600      |

  @p1
  @contract.queen.deadline-cold-start
  Scenario: A deadline that passes during a cold start ends the job, and the worker serves the next one
    Given a stack with 1 hive where:
      | setting | value                |
      | workers | start 4 seconds late |
    When I submit an infer job for model "tinyllama" with 8 max tokens and a 1 second deadline
    Then the job's stream ends with a marker starting "[ERROR] TIMEOUT" between 1 and 5 seconds after it was submitted
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    And the next job for model "tinyllama" runs on the worker spawned for the timed-out job

  @p2
  @contract.queen.deadline-header
  Scenario Outline: A caller's deadline that is <value> is refused, and no job is taken
    Given a stack with 1 hive
    When a client asks queen for a job, sending the header X-Request-Deadline "<value>"
    Then queen answers 422 with code "INVALID_REQUEST" naming the field "x-request-deadline"
    And the error body is safe and carries the request's correlation id
    And queen has taken no job

    Examples:
      | value  |
      | soon   |
      | -5     |
      | +5     |
      | 1_000  |
      | 1e3    |
