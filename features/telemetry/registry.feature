@integration @telemetry @p0
Feature: Queen's registry follows the hives' heartbeats
  Queen knows hives and workers only from heartbeats: a worker that dies leaves it at
  once (pushed by its hive), a silent hive becomes unavailable after the staleness
  bound and is forgotten later, and the scheduling queries answer from it.

  @contract.hive.heartbeat @contract.queen.registry
  Scenario: A worker that dies is gone from queen's registry within 2 seconds
    Given a stack with 1 hive
    And a completed job for model "tinyllama"
    When the job's worker is killed with SIGKILL
    Then queen no longer lists the job's worker within 2 seconds
    And hive "hive-1" reports the job's worker ended "killed by SIGKILL"

  @contract.queen.workers-query
  Scenario: Scheduling queries answer by model, idleness and hive
    Given a stack with 2 hives
    And a completed job for model "tinyllama" on hive "hive-1"
    And a completed job for model "tinyllama-b" on hive "hive-2"
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    Then queen's worker queries answer
      | query                 | workers                                              |
      | model=tinyllama       | hive-1:tinyllama                                     |
      | model=tinyllama-b     | hive-2:tinyllama-b                                   |
      | hive=hive-2           | hive-2:tinyllama-b                                   |
      | idle=true             | hive-1:tinyllama, hive-2:tinyllama-b                 |
      | idle=false            | hive-1:slowllama                                     |
      | model=slowllama&idle=true |                                                  |

  @contract.queen.registry
  Scenario: A silent hive becomes unavailable after the staleness bound, then is forgotten
    Given a stack with 2 hives
    When hive "hive-2" is stopped
    Then queen marks hive "hive-2" unavailable between 2 and 6 seconds after it went silent
    And queen forgets hive "hive-2" within 10 seconds
    And a job for model "tinyllama" completes

  @cap.ui-stream @contract.queen.registry @contract.queen.ui-stream
  Scenario: With --hive-remove-after, a silent hive is forgotten at that bound, and the UI stream tells of both steps
    Given a stack with 2 hives where:
      | setting                   | value      |
      | queen --hive-remove-after | 10 seconds |
    And I watch queen's heartbeat stream
    When hive "hive-2" is stopped
    Then queen marks hive "hive-2" unavailable between 2 and 6 seconds after it went silent
    And queen forgets hive "hive-2" between 7 and 16 seconds after it was stopped
    And the heartbeat stream told of hive "hive-2" becoming unavailable, then removed

  @contract.queen.unavailable @contract.queen.workers-query
  Scenario: The running workers of an unavailable hive are never listed, and never given a job
    Given a stack with 2 hives
    And a completed job for model "tinyllama" on hive "hive-1"
    When the rbee-hive process of hive "hive-1" is paused with SIGSTOP
    Then queen marks hive "hive-1" unavailable between 2 and 6 seconds after it went silent
    And hive "hive-1"'s process table still holds 1 worker process for model "tinyllama"
    And queen lists no worker of hive "hive-1"
    And the next 3 jobs for model "tinyllama" all run on hive "hive-2"

  @contract.queen.hive-id-conflict
  Scenario: A second hive claiming a live hive's id is refused, and the first keeps its entry and its workers
    Given a stack with 1 hive
    And a completed job for model "tinyllama" on hive "hive-1"
    And the metrics of queen and hive "hive-1" are noted
    When another hive instance sends queen a heartbeat as "hive-1"
    Then the answer is 409 with code "HIVE_ID_CONFLICT" naming "hive-1"
    And queen lists hive "hive-1" as available at its own address
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"
    And these series moved by exactly:
      | daemon | series                             | by |
      | queen  | rbee_queen_hive_id_conflicts_total | 1  |
    And a job for model "tinyllama" completes

  @contract.queen.hive-id-conflict @contract.queen.registry
  Scenario: Another instance takes a hive id over only once its holder has been silent past the staleness bound
    Given a stack with 1 hive
    When the rbee-hive process of hive "hive-1" is paused with SIGSTOP
    And another hive instance sends queen a heartbeat as "hive-1"
    Then the answer is 409 with code "HIVE_ID_CONFLICT" naming "hive-1"
    And queen marks hive "hive-1" unavailable between 2 and 6 seconds after it went silent
    When another hive instance sends queen a heartbeat as "hive-1"
    Then queen lists hive "hive-1" as available at the other instance's address

  @contract.queen.heartbeat
  Scenario: A malformed heartbeat is refused and changes nothing
    Given a stack with 1 hive
    When a heartbeat missing its hive_id is posted to queen
    Then the answer is 422 with code "INVALID_REQUEST" naming "hive_id"
    And queen lists hive "hive-1" as available

  @contract.hive.invalid-limit
  Scenario: A spawn with a bad CPU limit is refused before any process starts
    Given a stack with 1 hive
    When I ask hive "hive-1" to spawn a worker for "tinyllama" with CPU limit "lots"
    Then the answer is 400 with code "INVALID_LIMIT" naming "cpu limit"
    And hive "hive-1" runs 0 worker processes for model "tinyllama"
