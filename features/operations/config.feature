@integration @operations @config @cap.config-file
Feature: Each daemon reads an optional TOML file at start, and again on SIGHUP
  `--config FILE` holds settings named as the daemon's long flags without the dashes
  (`max-workers = 2`); flags on the command line win over it. At start, an unknown key or a bad
  value ends the daemon with exit code 2 and one line naming the key. On SIGHUP the file is read
  again and what may change at run time (log level, staleness bounds, timeouts, grace periods,
  the hive's worker limits and health bounds; credentials are re-read too) takes effect at once,
  without touching the streams in progress. A file that cannot be used then keeps the
  configuration in force and logs one clear error.

  @p1
  @contract.daemon.config @contract.hive.at-capacity
  Scenario: The hive's file sets what its flags do not
    Given a stack with 1 hive where:
      | setting          | value           |
      | hive config file | max-workers = 1 |
    Then hive "hive-1" spawns 1 worker for "tinyllama" and refuses one more with 503 "HIVE_AT_CAPACITY"

  @p1
  @contract.daemon.config
  Scenario: A flag wins over the file
    Given a stack with 1 hive where:
      | setting            | value           |
      | hive config file   | max-workers = 1 |
      | hive --max-workers | 2               |
    Then hive "hive-1" spawns 2 workers for "tinyllama" and refuses one more with 503 "HIVE_AT_CAPACITY"

  @p1
  @contract.daemon.config-reload
  Scenario: SIGHUP applies a changed file at once, and a stream in progress goes on
    Given a stack with 1 hive where:
      | setting          | value           |
      | hive config file | max-workers = 1 |
    And a job for model "slowllama" with 400 max tokens is streaming on hive "hive-1"
    When hive "hive-1"'s config file is rewritten to say "max-workers = 3" and it gets SIGHUP
    Then hive "hive-1"'s log says "configuration reloaded: max-workers = 3" within 5 seconds
    And hive "hive-1" spawns 2 workers for "tinyllama" and refuses one more with 503 "HIVE_AT_CAPACITY"
    And the job's stream ends with "[DONE]" within 60 seconds

  @p1
  @contract.daemon.config-reload
  Scenario: A file that cannot be used on SIGHUP keeps the configuration in force, with one clear error
    Given a stack with 1 hive where:
      | setting          | value           |
      | hive config file | max-workers = 1 |
    When hive "hive-1"'s config file is rewritten to say "max-workers = 'two'" and it gets SIGHUP
    Then hive "hive-1"'s log says "configuration not reloaded, the previous one stays in force" within 5 seconds
    And hive "hive-1"'s log holds "max-workers has a bad value 'two'" exactly once
    And hive "hive-1" spawns 1 worker for "tinyllama" and refuses one more with 503 "HIVE_AT_CAPACITY"

  @p1
  @contract.daemon.config-errors
  Scenario Outline: A hive whose file has <problem> does not start, and says which key
    When I start a stack with 1 hive where:
      | setting          | value  |
      | hive config file | <text> |
    Then the start fails within 10 seconds
    And the failure names hive-1, exit code 2 and its log line "<line>" once

    Examples:
      | problem        | text                      | line                                     |
      | an unknown key | max-wrokers = 2           | unknown key 'max-wrokers'                |
      | a bad value    | worker-start-timeout = -3 | worker-start-timeout has a bad value -3  |

  @p2
  @contract.daemon.log-level @contract.daemon.log-format
  Scenario: A hive started with --log-level WARNING writes only warnings and worse, each as "time LEVEL program message"
    Given a stack with 1 hive where:
      | setting          | value   |
      | hive --log-level | WARNING |
    And a completed job for model "tinyllama"
    When hive "hive-1" is stopped
    Then every line of hive "hive-1"'s log reads "time LEVEL rbee-hive message", at WARNING or above
