@integration @security @audit @cap.audit
@contract.sec.audit @contract.sec.audit-chain @contract.sec.audit-verify
Feature: Security events are recorded in a hash-chained audit trail
  Each daemon appends a JSON line for every authentication refusal and every action that
  changes something (job submit and cancel, spawn, kill, provision, shutdown, credential
  reload), with time, actor, principal, client address, target, outcome and correlation id.
  Each record carries the SHA-256 of the one before: `rbee-keeper audit verify FILE` reports the
  first record that was changed, removed or inserted.

  Background:
    Given a stack with 1 hive
    And a completed job for model "tinyllama" on hive "hive-1"
    When a client asks queen for a job with an unknown token
    And I cancel the job with DELETE

  @p0
  Scenario: The audit trails record who did what, and their chains verify
    Then queen's audit trail records "job.submit" by "bdd-admin" with the job's correlation id
    And queen's audit trail records "auth" refused as "denied:invalid" from the client's address
    And queen's audit trail records "job.cancel" by "bdd-admin"
    And hive "hive-1"'s audit trail records "worker.spawn" by "cluster" with the job's correlation id
    And rbee-keeper audit verify passes on the audit trails of queen and hive "hive-1"

  @p0
  Scenario Outline: An audit trail tampered with is caught: <change> record 2
    When I copy queen's audit trail and <change> record 2
    Then rbee-keeper audit verify exits with 1 naming record <caught> of the copy

    Examples:
      | change                                    | caught |
      | change the principal of                   | 2      |
      | remove                                    | 2      |
      | insert a well-formed forged record before | 3      |
      | repeat a key of                           | 2      |
      | escape a letter of                        | 2      |

  @p0
  @contract.sec.audit-anchor
  Scenario: What the chain cannot show, the anchor does
    Then rbee-keeper audit verify with the anchor catches each of these changes to a copy of queen's audit trail:
      | change                                          | found                        |
      | cut its last record                             | its tail is cut              |
      | cut its last half                               | its tail is cut              |
      | empty it                                        | the file is empty            |
      | append a forged record with its hash recomputed | records were added after     |
      | edit record 2 and re-chain the rest             | not the one its anchor names |

  @p1
  @contract.sec.audit-anchor
  Scenario: A queen that starts on a trail cut behind its anchor records the break
    When queen is stopped
    And the last record of queen's audit trail is cut away
    And queen is started again
    Then queen's audit trail records the break, and rbee-keeper audit verify of it and its anchor says "did not match its anchor"
