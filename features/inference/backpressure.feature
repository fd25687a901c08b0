@integration @inference @backpressure @p1 @cap.backpressure
Feature: Backpressure on job streams
  Queen keeps a job's events until the job ends and writes them to each reader only as fast
  as that reader takes them. A slow reader gets every token, in order, while queen's memory
  stays bounded. A reader whose connection takes nothing for the stall bound is
  disconnected, and a job left without readers is cancelled: no worker generates for nobody.

  Background:
    Given a stack with 1 hive whose queen disconnects a stalled stream reader after 3 seconds
    And a completed job for model "slowllama"

  Scenario: A slow reader receives every token in order
    When a slow client reads a 400-token job for model "slowllama" with seed 11, 128 bytes every 40 ms
    Then the slow client's stream ends with "[DONE]" within 90 seconds
    And the slow client's tokens are those of the same job read at full speed
    And queen's memory grew by less than 16 MiB while the slow client read

  Scenario: A reader that stops reading is disconnected and its job cancelled
    Given I note the "slowllama" worker of hive "hive-1"
    When a client opens the stream of a 3000-token job for model "slowllama" and never reads it
    Then queen cancels the stalled client's job within 40 seconds and closes its connection
    And the worker's metrics show no active job, open stream or busy flag within 2 seconds
    And queen's metrics show no active job, open stream or reservation within 2 seconds
