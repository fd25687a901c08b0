@integration @inference @error-propagation @p0
Feature: Failures reach the client as one clear error
  Each failure ends the job's stream with exactly one [ERROR] <CODE>: <message>, narrated by
  queen; rbee-keeper prints ❌ Failed: <reason> and exits non-zero.

  Scenario: No hive is registered
    Given a stack with no hive
    When I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: NO_HIVE"

  Scenario: The hive that has the model is not running
    Given a stack with 1 hive
    When hive "hive-1" is killed with SIGKILL
    And I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: HIVE_UNREACHABLE"

  Scenario: No hive has the model
    Given a stack with 1 hive
    When I submit an infer job for model "no-such-model" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] MODEL_NOT_FOUND" within 10 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "MODEL_NOT_FOUND"
    And hive "hive-1" runs 0 worker processes for model "no-such-model"

  Scenario: The model file is corrupt and llama.cpp refuses it
    Given a stack with 1 hive
    When I submit an infer job for model "corrupt" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] MODEL_LOAD_FAILED" within 30 seconds
    And the job's stream has narration "model_load_failed" from "llm-worker-rbee"
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "MODEL_LOAD_FAILED"
    And hive "hive-1" runs 0 worker processes for model "corrupt"

  Scenario: rbee-keeper shows a load failure as ❌ Failed
    Given a stack with 1 hive
    When I run rbee-keeper infer with model "corrupt"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: MODEL_LOAD_FAILED"

  Scenario: The worker crashes while tokens stream
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then the job's stream ends with a marker starting "[ERROR] WORKER_CRASHED" within 2 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "WORKER_CRASHED"
