@integration @inference @p0
@contract.queen.scheduling
Feature: Cold and warm start of an inference job
  A job for a model no worker serves yet makes a hive spawn a worker (cold start);
  a later job for that model reuses the ready worker (warm start).

  Background:
    Given a stack with 1 hive

  @contract.keeper.infer @contract.keeper.token
  Scenario: Cold start spawns a worker and rbee-keeper streams the completion
    Given hive "hive-1" runs no worker
    When I run rbee-keeper infer with model "tinyllama", 16 max tokens and seed 42
    Then rbee-keeper exits with code 0
    And rbee-keeper's last line on stderr is "✅ Complete"
    And rbee-keeper printed a completion on stdout
    And hive "hive-1" runs 1 worker process for model "tinyllama"
    And queen lists 1 ready worker for model "tinyllama" on hive "hive-1"

  @contract.worker.load-progress
  Scenario: A job waiting for a cold start hears its worker's model load, step by step, before its first token
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job's stream tells of its worker's model load, in this order, before its first token:
      | action              | mentioning            |
      | model_load          | loading tinyllama     |
      | model_load_progress | 25% of the weights    |
      | model_load_progress | 50% of the weights    |
      | model_load_progress | 75% of the weights    |
      | model_load_progress | 100% of the weights   |
      | ready               | tinyllama loaded      |

  Scenario: Warm start reuses the ready worker without spawning another
    Given a completed job for model "tinyllama"
    When I submit an infer job for model "tinyllama" with 16 max tokens
    Then the job's stream ends with "[DONE]" within 30 seconds
    And the job ran on the same worker as the previous job
    And hive "hive-1" runs 1 worker process for model "tinyllama"
    And the job's first token came sooner than the previous job's
