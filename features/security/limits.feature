@integration @security @limits
Feature: Each daemon bounds what one client can hold of it
  Every bound is a documented default with a flag, answered with a code and counted in
  /metrics. Here each is made small, and a client holds connections open as an attacker would:
  sockets that send half a request's headers, or a body that never comes. Without the bounds
  such sockets stayed open for as long as the client liked; enough of them used up the
  daemon's file descriptors, and every new client, health checks included, timed out.

  @p1
  @contract.daemon.connection-limits
  Scenario: Connections over the cap are refused at once, and half-sent headers are cut at their bound
    Given a stack with 1 hive where:
      | setting                 | value |
      | queen --max-connections | 10    |
      | queen --header-timeout  | 1.5   |
    And the metrics of queen and hive "hive-1" are noted
    When a client opens 14 connections to queen and sends half a request's headers on each
    Then queen answers at least 4 of them 503 with code "TOO_MANY_CONNECTIONS" at once, and serves at most 10
    And queen closes the other connections without an answer between 1.4 and 4 seconds after they were opened
    And queen still answers its health check
    And queen's metrics count each refused connection and each header timeout

  # over TLS a connection closed gracefully waits for the client's close_notify, which a client holding
  # it never sends: queen counted cut connections against its cap up to a second more, and refused its
  # own health check; a connection cut at the header bound is now aborted
  @p1 @cap.tls
  @contract.daemon.connection-limits
  Scenario: Over TLS, connections cut at the header bound free their places at once
    Given a stack with 1 hive where:
      | setting                 | value |
      | transport               | TLS   |
      | queen --max-connections | 10    |
      | queen --header-timeout  | 1.5   |
    When a client opens 14 connections to queen and sends half a request's headers on each
    Then queen answers at least 4 of them 503 with code "TOO_MANY_CONNECTIONS" at once, and serves at most 10
    And queen closes the other connections without an answer between 1.4 and 4 seconds after they were opened
    And queen still answers its health check

  @p1 @cap.auth
  @contract.daemon.connection-limits
  Scenario: A body that never comes is answered 408 at its bound
    Given a stack with 1 hive where:
      | setting              | value |
      | queen --body-timeout | 1.5   |
    When a client opens 1 connection to queen and sends a request whose body never comes
    Then queen answers 408 with code "REQUEST_TIMEOUT" between 1.4 and 4 seconds after the request began
    And queen has taken no job

  @p1 @cap.auth
  @contract.daemon.client-limits
  Scenario: An address that keeps failing authentication waits, from its bound on and not before
    Given a stack with 1 hive where:
      | setting                     | value |
      | queen --auth-failure-limit  | 5     |
      | queen --auth-failure-window | 30    |
    When a client sends queen 4 requests with an unknown token
    Then queen answers a request with the read token 200
    When a client sends queen 1 request with an unknown token
    Then queen answers a request with the read token 429 with code "TOO_MANY_AUTH_FAILURES" and a Retry-After of 1 to 30 seconds
    And queen still answers its health check

  @p1 @cap.auth
  @contract.daemon.client-limits
  Scenario: One client's unfinished jobs are bounded, and nobody else is held up by it
    Given a stack with 1 hive where:
      | setting                        | value |
      | queen --max-jobs-per-principal | 2     |
    And the metrics of queen and hive "hive-1" are noted
    When 2 jobs for model "slowllama" with 400 max tokens are submitted with the submit token
    And a client asks queen for a job with the submit token
    Then queen answers 429 with code "QUOTA_EXCEEDED"
    And queen has taken 2 jobs
    And these series moved by exactly:
      | daemon | series                                                 | by |
      | queen  | rbee_queen_limit_refusals_total{code="QUOTA_EXCEEDED"} | 1  |
    When a client asks queen for a job with an HS256 JWT with scope submit
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds

  @p1 @cap.ui-stream
  @contract.daemon.client-limits
  Scenario: The UI stream takes its bound of readers, and one more is refused
    Given a stack with 1 hive where:
      | setting                    | value |
      | queen --max-ui-subscribers | 2     |
    And the metrics of queen and hive "hive-1" are noted
    When 2 clients read queen's UI stream
    And one more client asks for queen's UI stream
    Then queen answers 503 with code "TOO_MANY_SUBSCRIBERS"
    And these series moved by exactly:
      | daemon | series                                                       | by |
      | queen  | rbee_queen_limit_refusals_total{code="TOO_MANY_SUBSCRIBERS"} | 1  |
