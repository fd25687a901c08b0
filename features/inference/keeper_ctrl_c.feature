@integration @inference @cancellation @keeper-cli @p0 @cap.cancellation
@contract.keeper.ctrl-c
Feature: Ctrl+C in rbee-keeper cancels the job it started

  Scenario: Ctrl+C while tokens stream
    Given a stack with 1 hive
    When I start rbee-keeper infer with model "slowllama" and 3000 max tokens
    And rbee-keeper has printed tokens
    And I press Ctrl+C in rbee-keeper
    Then rbee-keeper exits within 3 seconds
    And rbee-keeper exits with code 130
    And rbee-keeper's last line on stderr is "❌ Failed: cancelled by Ctrl+C"
    And the "slowllama" worker on hive "hive-1" is idle again within 2 seconds
