@integration @operations @keeper-cli
Feature: rbee-keeper shows an operator what queen knows
  `rbee-keeper hives`, `workers [--model M]` and `status` print a table for people and JSON
  with `--json`; `rbee-keeper logs JOB_ID` prints a job's narration and its end. Exit 0, or 1
  with one line `❌ Failed: …` on stderr. The keeper's token comes from its environment.

  Background:
    Given a stack with 1 hive
    And a completed job for model "tinyllama" on hive "hive-1"

  @p1
  @contract.keeper.operator-views
  Scenario: hives, workers and status agree with queen's registry
    When I run rbee-keeper with hives --json
    Then rbee-keeper exits with code 0
    And rbee-keeper's JSON lists hive "hive-1" as available with 1 worker
    When I run rbee-keeper with workers --model tinyllama --json
    Then rbee-keeper's JSON lists the job's worker for model "tinyllama" on hive "hive-1"
    When I run rbee-keeper with status
    Then rbee-keeper printed "hives: 1 (1 available)" on stdout
    And rbee-keeper printed "workers: 1 (1 idle)" on stdout
    When I run rbee-keeper with hives
    Then rbee-keeper printed a table whose header starts "HIVE" and whose rows name "hive-1"

  @p1
  @contract.keeper.logs @contract.sse.late-reader
  Scenario: logs prints the narration and the end of the user's own job
    Given a completed job for model "tinyllama", submitted with the submit token
    When I run rbee-keeper logs with the job's id
    Then rbee-keeper exits with code 0
    And rbee-keeper printed "[queen-rbee] job_complete" on stdout
    And rbee-keeper's last line on stdout is "[DONE]"

  @p1 @cap.auth
  @contract.keeper.logs @contract.queen.job-ownership
  Scenario: logs of another user's job fails as if the job did not exist
    When I run rbee-keeper logs with the job's id
    Then rbee-keeper exits with code 1
    And rbee-keeper printed one line on stderr starting with "❌ Failed: JOB_NOT_FOUND"

  @p2
  @contract.keeper.logs
  Scenario: logs of a job queen does not know fails clearly
    When I run rbee-keeper with logs job-that-never-was
    Then rbee-keeper exits with code 1
    And rbee-keeper printed one line on stderr starting with "❌ Failed: JOB_NOT_FOUND"
