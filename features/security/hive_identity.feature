@integration @security @auth @cap.auth
Feature: Each hive has a credential of its own, and only it speaks for that hive
  Attacked from outside: every hive and every worker held the same cluster credential, so anyone
  holding it (any worker process) posted heartbeats as hive-1 pointing at a server of their own,
  and a victim's job went there. With queen's --hive-token-file each hive has its own credential,
  bound to its id; the cluster credential, which workers hold, no longer posts heartbeats.

  @p0
  @contract.sec.hive-credentials @contract.err.hive-credential-mismatch
  Scenario: A hive's credential speaks for that hive only: the real hive keeps its entry and its jobs
    Given a stack with 2 hives where:
      | setting          | value        |
      | hive credentials | one per hive |
    When a heartbeat for hive "hive-2" pointing elsewhere is posted with the credential of hive "hive-1"
    Then the answer is 403 with code "HIVE_CREDENTIAL_MISMATCH" naming "may post only for hive hive-1, not for hive-2"
    And queen lists hive "hive-2" as available at its own address
    And a job for model "tinyllama" pinned to hive "hive-2" completes there

  @p0
  @contract.sec.hive-credentials
  Scenario: The cluster credential, which every worker holds, cannot post a hive's heartbeat
    Given a stack with 1 hive where:
      | setting          | value        |
      | hive credentials | one per hive |
    When a heartbeat for hive "hive-1" pointing elsewhere is posted with the cluster credential
    Then queen answers 403 with reason "scope"
    And queen lists hive "hive-1" as available at its own address
    And a job for model "tinyllama" pinned to hive "hive-1" completes there

  @p1
  @contract.sec.hive-credentials
  Scenario: Revoking one hive's credential cuts that hive off within the staleness bound, and no other
    Given a stack with 2 hives where:
      | setting          | value        |
      | hive credentials | one per hive |
    When queen revokes the credential of hive "hive-1"
    Then queen marks hive "hive-1" unavailable between 2 and 6 seconds after it went silent
    And hive "hive-1"'s log says "queen refuses this hive's credential" within 5 seconds
    And queen lists hive "hive-2" as available at its own address
    And a job for model "tinyllama" pinned to hive "hive-2" completes there
