@integration @inference @error-propagation @p0
Feature: Failures reach the client as one clear error
  Each failure ends the job's stream with exactly one [ERROR] <CODE>: <message>, narrated by
  queen; rbee-keeper prints ❌ Failed: <reason> and exits non-zero.

  @contract.queen.error-codes
  Scenario: No hive is registered
    Given a stack with 0 hives
    When I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: NO_HIVE"

  @contract.queen.error-codes
  Scenario: The hive that has the model is not running
    Given a stack with 1 hive
    When hive "hive-1" is killed with SIGKILL
    And I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: HIVE_UNREACHABLE"

  @contract.queen.error-codes @contract.queen.model-not-found
  Scenario: No hive has the model
    Given a stack with 1 hive
    When I submit an infer job for model "no-such-model" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] MODEL_NOT_FOUND" within 10 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "MODEL_NOT_FOUND"
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "provision it on a hive first"
    And hive "hive-1" runs 0 worker processes for model "no-such-model"

  @contract.queen.no-worker
  Scenario: No worker for the model exists and none can be spawned
    Given a stack with 1 hive where:
      | setting            | value |
      | hive --max-workers | 1     |
    And a completed job for model "tinyllama-b"
    When I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: NO_WORKER_AVAILABLE"
    And hive "hive-1" runs 0 worker processes for model "tinyllama"

  @cap.gpu-placement
  @contract.hive.gpu-placement
  Scenario: Device memory is exhausted: the model is refused before any worker starts
    Given a stack with 1 hive where:
      | setting       | value |
      | hive --device | gpu   |
    And the GPUs of hive "hive-1" have 24576 and 24576 MiB of their 24576 MiB in use
    When I run rbee-keeper infer with model "tinyllama"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: DEVICE_MEMORY_EXHAUSTED"
    And hive "hive-1" runs 0 worker processes for model "tinyllama"

  @cap.gpu-placement
  @contract.hive.gpu-placement
  Scenario: A GPU hive places the worker on the GPU with room for the model
    Given a stack with 1 hive where:
      | setting       | value |
      | hive --device | gpu   |
    And the GPUs of hive "hive-1" have 24576 and 1024 MiB of their 24576 MiB in use
    When I submit an infer job for model "tinyllama" with 8 max tokens
    And it completes
    Then the job's worker process has CUDA_VISIBLE_DEVICES "1"

  @cap.gpu-placement
  @contract.hive.gpu-placement
  Scenario: A GPU hive whose nvidia-smi fails, hangs or answers garbage refuses GPU work naming the cause, and stays available
    Given a stack with 1 hive where:
      | setting       | value |
      | hive --device | gpu   |
    Then hive "hive-1" refuses to spawn a "tinyllama" worker with 503 "DEVICE_UNAVAILABLE" naming the cause, whichever way its nvidia-smi breaks:
      | nvidia-smi      | cause           |
      | fails           | exit code 9     |
      | hangs           | did not answer  |
      | answers garbage | output unusable |
    And queen lists hive "hive-1" as available

  @cap.gpu-placement
  @contract.hive.gpu-placement
  Scenario: A GPU hive without nvidia-smi ends a job with DEVICE_UNAVAILABLE before any worker starts
    Given a stack with 1 hive where:
      | setting           | value                   |
      | hive --device     | gpu                     |
      | hive --nvidia-smi | /nonexistent/nvidia-smi |
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] DEVICE_UNAVAILABLE" within 10 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "not found"
    And hive "hive-1" runs 0 worker processes for model "tinyllama"

  @contract.worker.load-failure
  Scenario: The model file is corrupt and llama.cpp refuses it
    Given a stack with 1 hive
    When I submit an infer job for model "corrupt" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] MODEL_LOAD_FAILED" within 30 seconds
    And the job's stream has narration "model_load_failed" from "llm-worker-rbee"
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "MODEL_LOAD_FAILED"
    And hive "hive-1" runs 0 worker processes for model "corrupt"

  @contract.keeper.infer
  Scenario: rbee-keeper shows a load failure as ❌ Failed
    Given a stack with 1 hive
    When I run rbee-keeper infer with model "corrupt"
    Then rbee-keeper exits with code 1
    And rbee-keeper's last line on stderr starts with "❌ Failed: MODEL_LOAD_FAILED"

  @contract.queen.no-replay
  Scenario: The worker crashes while tokens stream
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then the job's stream ends with a marker starting "[ERROR] WORKER_CRASHED" within 2 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "WORKER_CRASHED"
