@integration @inference @timeout @p0 @cap.deadlines
Feature: A job's deadline travels from the client to the worker
  The client sets a deadline (rbee-keeper --timeout, default 30 s); queen passes it on to the
  worker as X-Request-Deadline; when it passes the worker stops generating and the client
  gets [ERROR] TIMEOUT. Nothing keeps running.

  Background:
    Given a stack with 1 hive

  @contract.queen.deadline-enforced
  Scenario: The worker stops at the deadline and says so
    # a warm worker: a cold start of slowllama under CPU contention once took the whole 3 s,
    # and queen ended the job before the worker had begun (job_timeout, not infer_timeout)
    Given a completed job for model "slowllama" on hive "hive-1"
    When I submit an infer job for model "slowllama" with 3000 max tokens and a 3 second deadline
    Then the job's stream ends with a marker starting "[ERROR] TIMEOUT" between 3 and 6 seconds after it was submitted
    And the job's stream has narration "infer_timeout" from "llm-worker-rbee"
    And the job's worker stops generating within 1 second
    And the job's state is "failed" within 2 seconds

  # @serial: its 2-second "idle again" bound was missed once in 4 parallel runs (CPU contention)
  @serial
  @contract.keeper.timeout
  Scenario: rbee-keeper --timeout ends a long job with a clear failure
    When I run rbee-keeper infer with model "slowllama", 3000 max tokens and a 3 second timeout
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: TIMEOUT"
    And rbee-keeper took less than 6 seconds
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds
