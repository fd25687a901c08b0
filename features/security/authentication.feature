@integration @security @auth @cap.auth
Feature: Only a caller with a valid credential and the scope it needs reaches the stack
  Queen takes client tokens from its token file, each with a scope (read < submit < admin), and
  JWTs signed with its HS256 key or its RS256 key pair (iss, aud, exp, nbf checked with 30 s of
  clock skew; the scope from the "scope" claim). Daemons call each other with the cluster
  credential, which no client token replaces. The harness makes every credential afresh for each
  scenario; none is ever committed.

  Background:
    Given a stack with 1 hive

  @p0
  @contract.err.unauthenticated @contract.sec.tokens @contract.sec.jwt
  Scenario Outline: A job asked for with <credential> is refused with 401 and the reason
    When a client asks queen for a job with <credential>
    Then queen answers 401 with reason "<reason>" and a Bearer challenge
    And the answer does not echo the credential
    And queen has taken no job

    Examples:
      | credential                           | reason         |
      | no token                             | missing        |
      | a Basic header                       | malformed      |
      | an unknown token                     | invalid        |
      | an expired JWT                       | expired        |
      | a JWT not valid yet                  | not_yet_valid  |
      | a JWT for another audience           | wrong_audience |
      | a JWT from another issuer            | wrong_issuer   |
      | a JWT signed with another key        | bad_signature  |
      | an RS256 JWT signed with another key | bad_signature  |

  @p0
  @contract.sec.tokens @contract.sec.jwt
  Scenario Outline: A job asked for with <credential> runs
    When a client asks queen for a job with <credential>
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds

    Examples:
      | credential                     |
      | the submit token               |
      | an HS256 JWT with scope submit |
      | an RS256 JWT with scope submit |

  @p1
  @contract.err.forbidden @contract.sec.scopes
  Scenario Outline: <credential> may look but not submit
    When a client asks queen for a job with <credential>
    Then queen answers 403 with reason "scope"
    And queen has taken no job
    And a client with <credential> sees hive "hive-1" in queen's registry

    Examples:
      | credential                   |
      | the read token               |
      | an HS256 JWT with scope read |

  @p0
  @contract.sec.cluster-only
  Scenario: A fake hive without the cluster credential cannot register
    When a hive "intruder" posts its heartbeat to queen with the admin token
    Then queen answers 403 with reason "scope"
    When a hive "intruder" posts its heartbeat to queen with no token
    Then queen answers 401 with reason "missing"
    And queen's registry lists only hive "hive-1"

  @p0
  @contract.sec.cluster-token @contract.sec.scopes @contract.worker.jobs
  Scenario: Without the cluster credential nobody drives a worker or a hive directly
    Given a completed job for model "tinyllama" on hive "hive-1"
    When a client posts a job straight to the job's worker with the admin token
    Then the worker answers 401 with reason "invalid"
    When a client asks hive "hive-1" to spawn a worker for "tinyllama" with no token
    Then hive "hive-1" answers 401 with reason "missing"
    And hive "hive-1" runs 1 worker process for model "tinyllama"
    And the job's worker has run 1 job

  @p1
  @contract.sec.rotation
  Scenario: Client tokens rotate on SIGHUP, without a restart and without dropping a stream
    Given a job for model "slowllama" with 400 max tokens is streaming on hive "hive-1"
    When the admin token is replaced by a new one in queen's token file and queen gets SIGHUP
    Then a job asked for with the new token is accepted at once
    And a job asked for with the replaced token is refused with 401 and reason "invalid" at once
    And the job's stream ends with "[DONE]" within 60 seconds
