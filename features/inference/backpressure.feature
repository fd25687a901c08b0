@integration @inference @backpressure @p1 @cap.backpressure
Feature: Backpressure on job streams
  Queen keeps a job's events until the job ends and writes them to each reader only as fast
  as that reader takes them. A slow reader gets every token, in order, while queen's memory
  stays bounded. A reader whose connection takes nothing for the stall bound is
  disconnected, and a job left without readers is cancelled: no worker generates for nobody.

  Background:
    Given a stack with 1 hive where:
      | setting               | value     |
      | queen --stall-timeout | 3 seconds |
    And a completed job for model "slowllama"

  @contract.queen.stream-backpressure
  Scenario: A slow reader receives every token in order
    When a slow client reads a 400-token job for model "slowllama" with seed 11, 128 bytes every 40 ms
    Then the slow client's stream ends with "[DONE]" within 90 seconds
    And the slow client's tokens are those of the same job read at full speed
    And queen's memory grew by less than 16 MiB while the slow client read

  # the worker generates about 3.5 KiB of events a second here and the client takes 2.5: the
  # buffers on the way (queen's 8 KiB transport and 16 KiB socket, the client's 4 KiB) fill,
  # and queen's writes wait for the reader from then on
  @slow
  @contract.queen.stream-backpressure
  Scenario: A reader slower than the worker, of a job longer than every buffer on its way, gets every token
    When a slow client reads a 2000-token job for model "slowllama" with seed 12, 128 bytes every 50 ms, beside a full-speed reader of a job with the same seed
    Then the slow client's stream ends with "[DONE]" within 180 seconds
    And the slow client received more than 64 KiB, more than the buffers between it and queen hold
    And the slow client's tokens are those of the full-speed reader, byte for byte

  @contract.queen.stream-stall
  Scenario: A reader that stops reading is disconnected and its job cancelled
    Given I note the "slowllama" worker of hive "hive-1"
    When a client opens the stream of a 3000-token job for model "slowllama" and never reads it
    Then queen cancels the stalled client's job within 40 seconds and closes its connection
    And the worker's metrics show no active job, open stream or busy flag within 2 seconds
    And queen's metrics show no active job, open stream or reservation within 2 seconds
