@integration @inference @cancellation @p0 @cap.cancellation
Feature: Cancelling a job stops the work on its worker
  DELETE on the job, a client that goes away, and Ctrl+C in rbee-keeper each cancel the
  job: its worker stops generating within a second and is free again, and whoever still
  listens sees [CANCELLED].

  Background:
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    And the job's worker is generating

  @contract.queen.cancel @contract.worker.cancel
  Scenario: DELETE cancels a streaming job
    When I cancel the job with DELETE
    Then the job's stream ends with "[CANCELLED]" within 5 seconds
    And the job's worker stops generating within 1 second
    And the job's state is "cancelled" within 2 seconds
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds

  @contract.queen.busy-retry
  Scenario: A job sent right after a cancel waits for the worker's last token, and completes there
    # found by the chaos workload: queen freed the worker at once, and the next job it was
    # given failed with 409 WORKER_BUSY while the worker still finished the cancelled one
    Given the "slowllama" worker of hive "hive-1" is paused with SIGSTOP
    When I cancel the job with DELETE
    And I submit an infer job for model "slowllama" with 8 max tokens
    And the paused worker is resumed with SIGCONT
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream has no narration "job_retry"
    And the job ran on the paused worker

  @contract.queen.stream-stall
  Scenario: A client that disconnects cancels its job
    When the job's client disconnects
    Then the job's worker stops generating within 1 second
    And the job's state is "cancelled" within 2 seconds
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds
