@integration @inference @narration @p0 @cap.narration
@contract.sse.narration @contract.queen.narration-relay
Feature: Narration from every layer reaches the job's stream
  Queen, hive and worker each tell what they do for a job; all of it reaches
  the client on the job's SSE stream, tagged with the job's id.

  Scenario: A cold-start job narrates from queen, hive and worker, all with its id
    Given a stack with 1 hive
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream has narration from "queen-rbee", "rbee-hive" and "llm-worker-rbee"
    And every narration event on the job's stream carries the job's id
    And the job's worker is idle again within 5 seconds
