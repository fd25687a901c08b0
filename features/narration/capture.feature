@integration @narration @p1 @cap.narration
@contract.hive.narration-capture
Feature: The hive relays its workers' narration lines and nothing else
  Workers print narration on stdout as "[actor] action : message"; the hive's
  ProcessNarrationCapture relays those lines to the job's stream (the message clipped to
  100 characters) and only logs everything else.

  Scenario: Ordinary and malformed stdout lines are not relayed and break nothing
    Given a stack with 1 hive where:
      | setting | value                                   |
      | workers | also print ordinary and malformed lines |
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream has narration "chatty_hello" from "llm-worker-rbee"
    And the job's stream has narration "chatty_long" from "llm-worker-rbee"
    And none of the worker's ordinary or malformed stdout lines is relayed
    And the human text of every narration event is at most 100 characters
