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
