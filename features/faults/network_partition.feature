@integration @faults @network-partition @needs.node-netns @p1
Feature: Network partitions between queen and a hive
  iptables rules inside the hive's own network namespace cut it (and its workers) off from
  queen, by dropping every packet or by rejecting them. Queen notices within the staleness
  bound, fails fast what needs that hive, ends streams that ran there with an error instead
  of hanging, and takes the hive back once the partition heals. A hive cut off from one of its
  workers (queen still reaches it) marks the worker unhealthy, and queen stops routing to it.

  @contract.queen.registry @contract.queen.unavailable
  Scenario Outline: A hive behind a partition (<mode>) is unavailable until the heal
    Given a stack with 1 hive
    And a completed job for model "tinyllama"
    When hive "hive-1" is cut off from queen with <mode>
    Then queen marks hive "hive-1" unavailable between 2 and 6 seconds after it went silent
    And a new job for model "tinyllama" is refused with 503 and code "HIVE_UNAVAILABLE"
    When the partition heals
    Then queen lists hive "hive-1" as available within 15 seconds
    And a job for model "tinyllama" completes

    Examples:
      | mode   |
      | DROP   |
      | REJECT |

  @contract.queen.unavailable
  Scenario: A partition during a token stream ends the stream with an error, never a hang
    Given a stack with 1 hive
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    And I note the "slowllama" worker of hive "hive-1"
    When hive "hive-1" is cut off from queen with DROP
    Then the job's stream ends with a marker starting "[ERROR] HIVE_UNAVAILABLE" within 8 seconds
    When the partition heals
    Then the noted worker stops generating within 30 seconds

  @cap.worker-health
  @contract.hive.health-checks
  Scenario: A hive cut off from one of its workers marks it unhealthy and queen routes around it
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-health-interval | 0.5 seconds |
      | hive --worker-health-failures | 0           |
    And I ask hive "hive-1" to spawn 1 worker for "tinyllama" at once
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    When hive "hive-1" is cut off from that worker
    Then queen lists that worker as "unhealthy" within 5 seconds
    And a job for model "tinyllama" runs on another worker
    When the partition heals
    Then queen lists that worker as "ready" within 5 seconds
