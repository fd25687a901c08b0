@integration @faults @cascading-shutdown @p1 @cap.cascading-shutdown
Feature: Cascading shutdown from queen
  SIGTERM to queen refuses new jobs, lets running ones finish, then shuts every hive down;
  each hive stops its workers (SIGTERM, SIGKILL after its grace period) before it exits.
  Workers end first, then hives, then queen, every daemon with exit code 0, within 30 s.

  @contract.queen.shutdown @contract.daemon.exit-0 @contract.queen.health @contract.hive.stop-all @contract.hive.shutdown
  Scenario: 2 hives × 2 workers with 2 jobs streaming
    Given a stack with 2 hives where:
      | setting            | value |
      | hive --max-workers | 2     |
    And I ask hive "hive-1" to spawn 2 workers for "slowllama" at once
    And I ask hive "hive-2" to spawn 2 workers for "slowllama" at once
    And queen lists 2 ready workers for model "slowllama" on hive "hive-1"
    And queen lists 2 ready workers for model "slowllama" on hive "hive-2"
    And 2 jobs for model "slowllama" with 300 max tokens are streaming
    When queen gets SIGTERM
    Then a new job for model "slowllama" is refused with 503 and code "SHUTTING_DOWN"
    And both streaming jobs end with "[DONE]" within 30 seconds
    And every worker, then every hive, then queen exits within 30 seconds of the SIGTERM
    And queen and every hive exited with code 0, and each hive saw its workers exit with code 0

  @contract.hive.stop-worker
  Scenario: A worker that ignores SIGTERM is killed after the grace period
    Given a stack with 1 hive where:
      | setting                  | value          |
      | workers                  | ignore SIGTERM |
      | hive --worker-stop-grace | 3 seconds      |
    And I ask hive "hive-1" to spawn 1 worker for "tinyllama" at once
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    When queen gets SIGTERM
    Then every worker, then every hive, then queen exits within 30 seconds of the SIGTERM
    And queen and every hive exited with code 0
    And hive "hive-1"'s log says "ignored SIGTERM for 3 s, killing" within 1 second
