@integration @inference @concurrency @p1
@contract.queen.queue
Feature: Concurrent jobs share the workers fairly and never mix their tokens
  A hive runs at most --max-workers workers; jobs that find every worker busy wait in
  line for their model, first come first served, and each gets exactly its own tokens.

  Scenario: 10 concurrent requests on 2 workers
    Given a stack with 1 hive where:
      | setting            | value |
      | hive --max-workers | 2     |
    When I submit 10 infer jobs for model "tinyllama" at once, each with 24 max tokens and its own seed
    Then all 10 jobs' streams end with "[DONE]" within 60 seconds
    And hive "hive-1" runs 2 worker processes for model "tinyllama"
    And each job's tokens equal the completion its seed gives when run alone
    And the jobs got their workers in the order they were submitted

  @contract.queen.queue-timeout
  Scenario: A job that waits in line past queen's queue bound ends with QUEUE_TIMEOUT, never before the bound
    Given a stack with 1 hive where:
      | setting               | value     |
      | hive --max-workers    | 1         |
      | queen --queue-timeout | 3 seconds |
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When I submit an infer job for model "slowllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] QUEUE_TIMEOUT" between 3 and 9 seconds after it was submitted
    And the job's stream has narration "job_queued" from "queen-rbee"
