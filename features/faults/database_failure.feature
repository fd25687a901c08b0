@integration @faults @database-failure @p1 @cap.catalog-recovery
@contract.hive.catalog @contract.hive.models
Feature: A corrupt model catalog is set aside and rebuilt
  The hive keeps its model catalog in SQLite. When the file is corrupt on disk, the hive
  notices (integrity check at start, or the next query), moves it aside to
  <file>.corrupt.backup, logs the error once, rebuilds the catalog from the model files
  present, and keeps provisioning workers.

  Scenario: Corrupted while the hive is stopped: detected at start
    Given a stack with 1 hive
    And I note where hive "hive-1" keeps its model catalog
    When hive "hive-1" is stopped
    And the model catalog of hive "hive-1" is overwritten with garbage
    And hive "hive-1" is started again
    Then hive "hive-1" lists the models "corrupt, slowllama, tinyllama, tinyllama-b"
    And hive "hive-1"'s log says "is corrupt" exactly once
    And the corrupt catalog of hive "hive-1" lies next to the new one as "<catalog>.corrupt.backup"
    And a job for model "tinyllama" completes

  Scenario: Corrupted while the hive runs: detected at the next query
    Given a stack with 1 hive
    When the model catalog of hive "hive-1" is overwritten with garbage
    Then hive "hive-1" lists the models "corrupt, slowllama, tinyllama, tinyllama-b"
    And hive "hive-1"'s log says "is corrupt" exactly once
    And the corrupt catalog of hive "hive-1" lies next to the new one as "<catalog>.corrupt.backup"
    And a job for model "tinyllama" completes
