@integration @security @transport @cap.tls
Feature: Every hop speaks TLS, and a daemon refuses a peer it cannot verify
  Attacked from outside, a TCP relay between a hive and queen captured the cluster credential
  from every heartbeat: the daemons spoke plain HTTP. Given a certificate and key, each daemon
  serves HTTPS, and each verifies the daemons it calls against its CA bundle. The harness makes
  a CA for the scenario and a certificate for each node naming the addresses it is reached by.
  The log scan after every scenario fails it on a PEM private key in any daemon's log.

  @p0
  @contract.sec.tls
  Scenario: A job runs over HTTPS from the client through queen and the hive to the worker
    Given a stack with 1 hive where:
      | setting   | value |
      | transport | TLS   |
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with "[DONE]" within 60 seconds
    And queen, hive "hive-1" and its workers are reached over HTTPS only
    And queen answers no request in plain HTTP on its port

  @p0 @cap.auth
  @contract.sec.tls
  Scenario Outline: A relay between the hive and queen, as an attacker on the network: <transport>
    Given a stack with 1 hive where:
      | setting           | value                          |
      | transport         | <transport>                    |
      | hives reach queen | through a relay of the harness |
    When I submit an infer job for model "tinyllama" with 4 max tokens
    Then the job's stream ends with "[DONE]" within 60 seconds
    And the relay between the hives and queen <saw>

    Examples:
      | transport  | saw                                                  |
      | TLS        | carried TLS only, and no credential of the scenario  |
      | plain HTTP | saw the cluster credential in the clear              |

  @p1
  @contract.sec.tls-verify
  Scenario Outline: A hive refuses a queen whose certificate is <fault>, and says why
    When I start a stack with 1 hive where:
      | setting           | value   |
      | queen certificate | <fault> |
    Then the stack starts
    And hive "hive-1"'s log says "cannot verify queen's certificate" within 10 seconds
    And hive "hive-1"'s log says "<reason>" within 1 second

    Examples:
      | fault            | reason                                    |
      | expired          | certificate has expired                   |
      | for another name | mismatch, certificate is not valid for    |
      | from another CA  | unable to get local issuer certificate    |

  @p1
  @contract.sec.tls-verify
  Scenario Outline: queen refuses a hive whose certificate is <fault>: the job says why
    Given a stack with 1 hive where:
      | setting            | value   |
      | hive-1 certificate | <fault> |
    When I submit an infer job for model "tinyllama" with 4 max tokens
    Then the job's stream ends with a marker starting "[ERROR] HIVE_UNREACHABLE: hive hive-1's certificate does not verify: <reason>" within 30 seconds

    Examples:
      | fault            | reason                                 |
      | expired          | certificate has expired                |
      | from another CA  | unable to get local issuer certificate |

  @p1
  @contract.sec.tls-files
  Scenario Outline: queen given <problem> does not start, and names the file
    When I start a stack with 1 hive where:
      | setting           | value     |
      | queen certificate | <problem> |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "<line>" once

    Examples:
      | problem                          | line                                           |
      | with its key missing             | cannot read the TLS key                        |
      | with a key that does not match   | does not match the certificate                 |
      | with a CA bundle that is not PEM | not a PEM CA bundle                            |

  @p0
  @contract.sec.plaintext-binding
  Scenario: queen asked to listen on every interface in plain HTTP, without --insecure-plaintext
    When I start a stack with 1 hive where:
      | setting      | value                                   |
      | transport    | plain HTTP without --insecure-plaintext |
      | queen --host | 0.0.0.0                                 |
    Then the start fails within 10 seconds
    And the failure names queen, exit code 2 and its log line "refusing to listen on 0.0.0.0 in plain HTTP" once

  @p1 @limits
  @contract.daemon.connection-limits @contract.sec.tls
  Scenario: Over TLS, a connection that never starts its handshake is cut at the header bound
    Given a stack with 1 hive where:
      | setting                | value |
      | transport              | TLS   |
      | queen --header-timeout | 1.5   |
    When a client opens 3 connections to queen and never starts their TLS handshake
    Then queen closes the other connections without an answer between 1.4 and 4 seconds after they were opened
    And queen still answers its health check

  @p1 @cap.cascading-shutdown
  @contract.sec.tls @contract.queen.shutdown
  Scenario: Over TLS, SIGTERM to queen stops every worker in its grace, none killed
    Given a stack with 1 hive where:
      | setting   | value |
      | transport | TLS   |
    And a completed job for model "tinyllama"
    When queen gets SIGTERM
    Then every worker, then every hive, then queen exits within 30 seconds of the SIGTERM
    And queen and every hive exited with code 0, and each hive saw its workers exit with code 0
