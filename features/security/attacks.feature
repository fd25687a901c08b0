@integration @security @attacks @cap.auth
Feature: Attacks that once got through stay fixed
  The reference stack was attacked from outside, as an attacker on the same network would. What
  got through is fixed in the stack, and each attack is kept here, so that a regression fails the
  suite: a worker that inherited its hive's credentials with its environment, a rotated cluster
  token that never reached the running workers, JWT headers the JWT library refuses answered
  with a traceback instead of 401, a '#' inside a token taken as the start of a comment, JWT
  principals that could take a static token's name, short HS256 keys, and file paths shown to
  clients.

  @p0
  @contract.sec.worker-env
  Scenario: A worker inherits no credential from its hive's environment
    Given a stack with 1 hive where:
      | setting          | value              |
      | hive credentials | in its environment |
    And a completed job for model "tinyllama" on hive "hive-1"
    Then the environment of the job's worker holds no credential and only the variables the contract passes

  @p0
  @contract.sec.worker-rotation
  Scenario: A rotated cluster token reaches the running workers
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-health-interval | 0.5 seconds |
      | hive --worker-health-failures | 0           |
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

  @p1
  @contract.sec.jwt-principal
  Scenario: JWTs with an unusable subject or time claim are refused with 401 and reason malformed
    Given a stack with 1 hive
    Then queen refuses a job asked for with each of these credentials with 401, its reason and a Bearer challenge:
      | credential                                | reason    |
      | a JWT with an empty subject               | malformed |
      | a JWT whose subject is 65 characters long | malformed |
      | a JWT whose subject has a space           | malformed |
      | a JWT whose exp is a numeric string       | malformed |
      | a JWT whose iat is a numeric string       | malformed |
    And queen has taken no job

  @p1 @cap.audit
  @contract.sec.jwt-principal
  Scenario Outline: <credential> acts as "<principal>", never as a name of the stack's own
    Given a stack with 1 hive
    When a client asks queen for a job with <credential>
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds
    And queen's audit trail records "job.submit" by "<principal>"

    Examples:
      | credential                                           | principal                                                            |
      | a JWT with scope submit whose subject is "bdd-admin" | jwt:bdd-admin                                                        |
      | a JWT with scope submit whose subject is "cluster"   | jwt:cluster                                                          |
      | a JWT whose subject is 64 characters long            | jwt:ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss |

  @p1
  @contract.sec.jwt-key-length
  Scenario: An HS256 key one byte short of 32 is refused at start
    When I start a stack with 1 hive where:
      | setting       | value    |
      | HS256 JWT key | 31 bytes |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "an HS256 key needs at least 32 bytes, it has 31" once

  @p1
  @contract.sec.jwt-key-length
  Scenario: An HS256 key of exactly 32 bytes is taken
    When I start a stack with 1 hive where:
      | setting       | value    |
      | HS256 JWT key | 32 bytes |
    Then the stack starts
    When a client asks queen for a job with an HS256 JWT with scope submit
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds

  @p1
  @contract.err.no-paths
  Scenario: A model that fails to load shows clients no filesystem path
    Given a stack with 1 hive
    When I submit an infer job for model "corrupt" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] MODEL_LOAD_FAILED" within 30 seconds
    And nothing a client sees of the job holds a filesystem path

  @p1
  @contract.err.invalid-request
  Scenario: An unknown field named like a path is refused without its path echoed
    Given a stack with 1 hive
    When a client asks queen for a job whose /etc/rbee/secret is 1
    Then queen answers 422 with code "INVALID_REQUEST" naming the field "<path>"
    And the error body is safe and carries the request's correlation id
    And queen has taken no job

  @p1
  @contract.sec.heartbeat-identity @contract.queen.hive-id-conflict
  Scenario: Heartbeats with a hive id, URL or instance id that is no identifier, plain address or 16 hex digits are refused and change nothing
    Given a stack with 1 hive
    Then queen refuses a heartbeat whose field is set to each of these values with 422 naming the field:
      | field       | value                 |
      | hive_id     | "../../etc"           |
      | hive_id     | "a\nb"                |
      | url         | "javascript:alert(1)" |
      | url         | "http://h:1/path"     |
      | url         | "http://u@h:1"        |
      | instance_id | "ABCDEF0123456789"    |
      | instance_id | "0123456789abcde"     |
      | instance_id | 42                    |
    And queen's registry lists only hive "hive-1"

  @p2
  @contract.daemon.request-metrics
  Scenario: Made-up HTTP methods share one metrics label
    Given a stack with 1 hive
    When a client sends queen 20 requests with made-up HTTP methods
    Then queen's request metrics have no label for a made-up method, and 20 requests under "other"

  @p1 @cap.audit
  @contract.sec.audit-clipped
  Scenario: A long path sent without a credential is recorded clipped
    Given a stack with 1 hive
    When a client asks queen for a path of 15000 characters with no token
    Then queen answers 401 with reason "missing"
    And queen's audit trail records the refusal with a target of at most 300 characters

  @p1 @cap.audit
  @contract.queen.job-ownership
  Scenario: A job belongs to its submitter: others get 404, and only its owner's leaving cancels it
    Given a stack with 1 hive
    And a job for model "slowllama" with 400 max tokens is streaming, submitted with the submit token
    Then a client with the read token gets 404 for the job's state and its stream
    And a client with an HS256 JWT with scope submit gets 404 for the job's state, its stream and its cancel
    And a client with the admin token sees the job's state
    When a client with the admin token reads the job's stream and leaves
    Then the job's stream goes on: 20 more tokens and no end
    When the job's own reader leaves
    Then queen reports the job "cancelled" within 5 seconds
    And queen's audit trail records "job.cancel" by "bdd-submit"

  @p1
  @contract.sec.tokens @contract.sec.jwt
  Scenario: 300 requests at once with credentials of every kind each get their own answer
    Given a stack with 1 hive where:
      | setting                    | value |
      | queen --auth-failure-limit | 0     |
    When 300 clients at once ask queen for its registry, with credentials of every kind in turn
    Then each got the answer its own credential calls for

  @p1
  @contract.sec.jwt @contract.err.unauthenticated
  Scenario: Attacks on authentication that held stay held
    Given a stack with 1 hive
    Then queen refuses a job asked for with each of these credentials with 401, its reason and a Bearer challenge:
      | credential                                                             | reason        |
      | an unsigned JWT (alg none)                                             | bad_signature |
      | an HS256 JWT signed with queen's RS256 public key                      | bad_signature |
      | a JWT whose jku names a key set of the attacker's, signed with its key | bad_signature |
      | a token of 8 KiB                                                       | invalid       |
    And queen has taken no job

  @p1 @cap.auth
  @contract.err.unauthenticated
  Scenario: A request without a credential is refused before its body is read
    Given a stack with 1 hive
    When a client opens 1 connection to queen and sends a request without a credential whose body never comes
    Then queen answers 401 with code "UNAUTHENTICATED" between 0 and 1 seconds after the request began
