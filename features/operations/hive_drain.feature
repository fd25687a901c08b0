@integration @operations @lifecycle @cap.hive-drain
@contract.hive.drain @contract.hive.health
Feature: A hive drains on its own SIGTERM, without queen
  On SIGTERM a hive says `draining` (in `/health` and in its heartbeats, so queen gives it no
  new work), refuses new workers with **503** `HIVE_DRAINING`, lets workers that run a job
  finish it for up to `--shutdown-grace` seconds (default 30), then stops every worker, releases
  its cgroups and exits with code 0. A job still running then ends with `[ERROR] WORKER_STOPPED`
  (its worker narrates `infer_stopped`). Queen is not involved and goes on serving.

  @p1
  Scenario: A hive's running job finishes, new work is refused, then the hive exits 0
    Given a stack with 1 hive where:
      | setting               | value      |
      | hive --shutdown-grace | 30 seconds |
    And a job for model "slowllama" with 400 max tokens is streaming on hive "hive-1"
    When hive "hive-1" gets SIGTERM
    Then hive "hive-1" refuses to spawn a "tinyllama" worker with 503 "HIVE_DRAINING"
    And a job for model "tinyllama" submitted now ends with a marker starting "[ERROR] HIVE_DRAINING"
    And the streaming job is still running
    And the job's stream ends with "[DONE]" within 60 seconds
    And hive "hive-1" exits with code 0 within 15 seconds
    And every worker process hive "hive-1" ran at the SIGTERM is gone
    And queen still serves

  @p1
  @contract.worker.sigterm
  Scenario: A job longer than the hive's grace is stopped when the grace ends
    Given a stack with 1 hive where:
      | setting               | value     |
      | hive --shutdown-grace | 2 seconds |
    And a job for model "slowllama" with 3000 max tokens is streaming on hive "hive-1"
    When hive "hive-1" gets SIGTERM
    Then hive "hive-1" exits with code 0 within 20 seconds
    And the job's stream ends with a marker starting "[ERROR] WORKER_STOPPED" between 2 and 20 seconds after the SIGTERM
    And the job's stream has narration "infer_stopped" from "llm-worker-rbee"
    And every worker process hive "hive-1" ran at the SIGTERM is gone
