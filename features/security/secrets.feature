@integration @security @secrets @cap.auth
@contract.sec.secrets @contract.err.scrubbed
Feature: Credentials never show where they could leak
  Daemons read credentials from files (or the environment), never from their command line; no
  token, key or Authorization value is written to a log, an error body, an audit record or a
  worker's environment.

  @p0
  Scenario: The scenario's credentials appear in no log, command line, environment or error body
    Given a stack with 1 hive
    And a completed job for model "tinyllama" on hive "hive-1"
    When a client asks queen for a job with an unknown token
    And a client asks queen for a job with a JWT for another audience
    And a hive "intruder" posts its heartbeat to queen with the admin token
    And rbee-keeper runs a job for model "tinyllama" with the submit token from its environment
    Then no secret of the scenario or of its refused requests appears in any daemon's log, command line, worker environment, audit record or error body
