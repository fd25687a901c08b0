@integration @security @attacks @cap.auth
Feature: Attacks that once got through stay fixed
  The reference stack was attacked from outside, as an attacker on the same network would. What
  got through is fixed in the stack, and each attack is kept here, so that a regression fails the
  suite: a worker that inherited its hive's credentials with its environment, a rotated cluster
  token that never reached the running workers, JWT headers the JWT library refuses answered
  with a traceback instead of 401, and a '#' inside a token taken as the start of a comment.

  @p0
  @contract.sec.worker-env
  Scenario: A worker inherits no credential from its hive's environment
    Given a stack with 1 hive given its cluster token and a user's token in its environment
    And a completed job for model "tinyllama" on hive "hive-1"
    Then the environment of the job's worker holds no credential and only the variables the contract passes

  @p0
  @contract.sec.worker-rotation
  Scenario: A rotated cluster token reaches the running workers
    Given a stack with 1 hive that checks its workers' health every 0.5 seconds and never removes one
    And a completed job for model "tinyllama" on hive "hive-1"
    When the cluster token is replaced by a new one and queen and every hive get SIGHUP
    Then the job's worker takes the new cluster token and refuses the replaced one within 5 seconds
    And a job for model "tinyllama" completes
    And the job ran on the same worker as the previous job

  @p0 @cap.audit
  @contract.sec.jwt-header @contract.daemon.auth-failures-metric
  Scenario Outline: <credential> is refused with 401, audited and counted, and leaves no traceback
    Given a stack with 1 hive
    And the metrics of queen and hive "hive-1" are noted
    When a client asks queen for a job with <credential>
    Then queen answers 401 with reason "malformed" and a Bearer challenge
    And queen has taken no job
    And queen's audit trail records "auth" refused as "denied:malformed" from the client's address
    And these series moved by exactly:
      | daemon | series                                       | by |
      | queen  | rbee_auth_failures_total{reason="malformed"} | 1  |
    And queen's log tells of the JWT header in one line, with no traceback and no text of the token's

    Examples:
      | credential                                     |
      | a JWT with a critical header extension         |
      | a JWT whose critical header forges a log line  |
      | a JWT whose key id is a number                 |

  @p1
  @contract.sec.tokens
  Scenario: A "#" inside a token is part of the token
    Given a stack with 1 hive
    And queen's submit token has a "#" in its middle
    When a client asks queen for a job with the submit token
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds
    When a client asks queen for a job with the submit token cut at its #
    Then queen answers 401 with reason "invalid" and a Bearer challenge
