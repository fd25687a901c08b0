@integration @faults @multi-hive @p1
@contract.queen.scheduling
Feature: Several hives share the work
  With two hives that run two workers each, ten jobs all complete and both hives take a
  fair share of them: queen gives a job to an idle worker of the least busy hive.

  Scenario: 2 hives × 2 workers, 10 jobs
    Given a stack with 2 hives where:
      | setting            | value |
      | hive --max-workers | 2     |
    And I ask hive "hive-1" to spawn 2 workers for "tinyllama" at once
    And I ask hive "hive-2" to spawn 2 workers for "tinyllama" at once
    And queen lists 2 ready workers for model "tinyllama" on hive "hive-1"
    And queen lists 2 ready workers for model "tinyllama" on hive "hive-2"
    When I submit 10 infer jobs for model "tinyllama" at once, each with 200 max tokens and its own seed
    Then all 10 jobs' streams end with "[DONE]" within 120 seconds
    And each hive served at least 3 of the jobs
    And hive "hive-1" runs 2 worker processes for model "tinyllama"
    And hive "hive-2" runs 2 worker processes for model "tinyllama"
