@integration @inference @p0
@contract.sse.token @contract.worker.seed
Feature: Tokens stream in order and are reproducible for a seed
  Every token event carries its index; the same request with the same seed
  yields the same completion, and another seed another one.

  Background:
    Given a stack with 1 hive

  Scenario: Indexes increase strictly and the same seed repeats the completion
    When I submit an infer job for model "tinyllama" with 24 max tokens and seed 7
    And it completes
    And I submit the same infer job again and it completes
    Then every stream's token indexes increase strictly from 0
    And the last two completions are identical

  Scenario: Another seed gives another completion
    When I submit an infer job for model "tinyllama" with 24 max tokens and seed 7
    And it completes
    And I submit an infer job for model "tinyllama" with 24 max tokens and seed 8
    And it completes
    Then the last two completions differ

  @contract.worker.jobs
  Scenario Outline: A job yields exactly max_tokens tokens unless the model or its context ends it first (<max_tokens> tokens)
    When I submit an infer job for model "<model>" with <max_tokens> max tokens and seed <seed>
    And it completes
    Then the job's stream has exactly <max_tokens> tokens, or fewer with the worker saying why

    Examples:
      | model       | max_tokens | seed |
      | tinyllama   | 64         | 1    |
      | tinyllama-b | 200        | 2    |
