@integration @security @audit @cap.audit
Feature: An audit trail lives as long as its daemon: across restarts, rotations and a full disk
  A daemon that starts on its own trail goes on from its last record: the first record after a
  clean restart links to the last one before it. With `--audit-max-bytes` a record that would take
  the file past the bound first moves it to `FILE.<n>` and starts a new file whose first record
  links to the last one of the file before: one chain over every file, which `rbee-keeper audit
  verify FILE` walks in order. A record that cannot be written (a full disk) is logged and counted
  in `rbee_audit_write_failures_total`, and the daemon serves on unaudited rather than refuse.

  @p1
  @contract.sec.audit-rotation @contract.sec.audit-restart
  Scenario: The trail rotates at its size bound and runs on across a clean restart, one chain over every file
    Given a stack with 1 hive where:
      | setting                 | value |
      | queen --audit-max-bytes | 4096  |
    When a client sends queen 20 requests with no token
    And queen is stopped
    And queen is started again
    And a client sends queen 20 requests with no token
    Then queen's audit trail is in 3 or more files, and rbee-keeper audit verify of them all says "chain intact, matches its anchor"
    And queen's audit trail holds its shutdown record with records of the restarted daemon after it

  @p1 @needs.tmpfs
  @contract.sec.audit-full-disk
  Scenario: A trail on a full disk: each record lost is logged and counted, and queen serves on
    Given a stack with 1 hive where:
      | setting          | value |
      | queen audit disk | 8 KiB |
    And the metrics of queen and hive "hive-1" are noted
    When a client sends queen 40 requests with no token
    Then queen's log says "not written" within 5 seconds
    And the series rbee_audit_write_failures_total of queen moved by at least 1
    And a job for model "tinyllama" completes
