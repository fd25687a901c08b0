@integration @inference @cancellation @p0 @cap.cancellation
Feature: Cancelling a job stops the work on its worker
  DELETE on the job, a client that goes away, and Ctrl+C in rbee-keeper each cancel the
  job: its worker stops generating within a second and is free again, and whoever still
  listens sees [CANCELLED].

  Background:
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    And the job's worker is generating

  Scenario: DELETE cancels a streaming job
    When I cancel the job with DELETE
    Then the job's stream ends with "[CANCELLED]" within 5 seconds
    And the job's worker stops generating within 1 second
    And the job's state is "cancelled" within 2 seconds
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds

  Scenario: A client that disconnects cancels its job
    When the job's client disconnects
    Then the job's worker stops generating within 1 second
    And the job's state is "cancelled" within 2 seconds
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds
