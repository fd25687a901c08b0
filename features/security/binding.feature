@integration @security @secrets @cap.auth
Feature: A daemon refuses to start where it would be unsafe, and says how to fix it
  A daemon asked to listen beyond loopback with no credential would let anyone who reaches it
  drive it; a credential file others can read is no secret. Either way the daemon exits with
  code 2 and one line saying why and what to do, before it listens.

  @p0
  @contract.sec.safe-binding
  Scenario: queen asked to listen on every interface without credentials
    When I start a stack with 1 hive where:
      | setting      | value   |
      | credentials  | none    |
      | queen --host | 0.0.0.0 |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "refusing to listen on 0.0.0.0 without credentials" once

  @p0
  @contract.sec.credential-files
  Scenario: credential files that others may read
    When I start a stack with 1 hive where:
      | setting          | value              |
      | credential files | readable by others |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "is accessible by group or others" once
