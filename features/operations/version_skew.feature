@integration @operations @version @cap.protocol-versions
@contract.queen.versions @contract.queen.hives
Feature: Queen works with hives of its own protocol major version and refuses the rest
  Every heartbeat carries the hive's `version` and `protocol` (`MAJOR.MINOR`; none means 1.0).
  Queen takes any minor version of its own major one, older or newer. A hive of another major
  version gets **409** `PROTOCOL_INCOMPATIBLE` naming both versions, is listed with
  `state: incompatible`, its workers are never listed or scheduled to, and a job for a model
  only it has ends with `[ERROR] HIVE_INCOMPATIBLE`.

  Background:
    Given a stack with 1 hive

  @p1
  Scenario: A hive announces its version and protocol, which queen shares
    Then queen lists hive "hive-1" with the protocol queen speaks and a version

  @p1
  Scenario: A hive of an older minor protocol version is taken
    When a hive "hive-older" speaking protocol 1.0 reports a ready "tinyllama" worker
    Then queen answered the heartbeat with 200
    And queen lists hive "hive-older" as "serving", speaking protocol 1.0
    And queen lists the "tinyllama" worker of hive "hive-older"

  @p1
  Scenario: A hive of another major protocol version is listed as incompatible and gets no work
    When a hive "hive-newer" speaking protocol 2.0 reports a ready "tinyllama" worker and model "skewllama"
    Then queen answered the heartbeat with 409 "PROTOCOL_INCOMPATIBLE" naming protocols 2.0 and the one queen speaks
    And queen lists hive "hive-newer" as "incompatible", speaking protocol 2.0
    And queen lists no worker of hive "hive-newer"
    And a job for model "skewllama" submitted now ends with a marker starting "[ERROR] HIVE_INCOMPATIBLE"
    And a job for model "tinyllama" runs on hive "hive-1"

  @p2
  Scenario: A heartbeat with a malformed protocol version is refused and changes nothing
    When a hive "hive-odd" speaking protocol two reports a ready "tinyllama" worker
    Then the answer is 422 with code "INVALID_REQUEST" naming "protocol"
    And queen lists no worker of hive "hive-odd"
