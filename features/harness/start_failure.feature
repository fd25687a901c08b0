@integration @harness @p1
Feature: A daemon that cannot start fails the scenario at once, saying why
  The harness watches each daemon it starts: one that exits during start-up ends the wait at
  once (no waiting out the 20 s / 30 s start timeouts) with its exit code and the end of its
  log, once. 10 seconds leaves room for the queen started before a hive, under load.

  Scenario: queen exits at start-up
    When I start a stack with 1 hive where:
      | setting              | value |
      | queen --no-such-flag | on    |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "unrecognized arguments: --no-such-flag" once

  Scenario: a hive exits at start-up
    When I start a stack with 1 hive where:
      | setting             | value |
      | hive --no-such-flag | on    |
    Then the start fails within 10 seconds
    And the failure names hive-1, exit code 2 and its log line "unrecognized arguments: --no-such-flag" once
