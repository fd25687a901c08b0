@integration @telemetry @p0 @cap.ui-stream
Feature: Worker telemetry reaches the UI's heartbeat stream
  Hives report every worker's process stats (pid, model, memory, CPU, I/O, GPU) in
  their heartbeats; queen passes each heartbeat on to UI subscribers as it arrives.

  Background:
    Given a stack with 1 hive
    And I watch queen's heartbeat stream

  @contract.queen.ui-stream @contract.hive.process-stats
  Scenario: A spawned worker shows on the stream with its real pid, its model and its memory
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the heartbeat stream shows a "tinyllama" worker with a pid and memory in use within 5 seconds
    And that pid is the worker's in hive "hive-1"'s process table

  @contract.hive.process-stats
  Scenario: A busy worker shows its CPU use
    When I submit an infer job for model "slowllama" with 1500 max tokens
    Then the heartbeat stream shows the "slowllama" worker using more than 20% CPU within 20 seconds

  @contract.hive.gpu-telemetry
  Scenario: A hung nvidia-smi does not hold heartbeats back
    When nvidia-smi on hive "hive-1" hangs
    Then the next 8 heartbeats of hive "hive-1" come at most 1.5 seconds apart
    And hive "hive-1" reports the GPU status "did not answer" within 10 seconds
    And a job for model "tinyllama" completes

  @contract.hive.gpu-telemetry @contract.hive.process-stats
  Scenario: A worker's GPU memory, by pid from nvidia-smi's process list, shows on the stream and in the hive's telemetry
    Given a completed job for model "tinyllama"
    When hive "hive-1"'s nvidia-smi reports the job's worker using 777 MiB of GPU 1
    Then the heartbeat stream and hive "hive-1"'s telemetry show the job's worker with 777 of 24576 MiB of GPU memory within 5 seconds

  @contract.hive.telemetry @contract.hive.process-stats
  Scenario: A hive's telemetry of a worker agrees with what the kernel says of its process
    Given a completed job for model "tinyllama"
    Then hive "hive-1"'s telemetry of the job's worker agrees with what the kernel says of its process
