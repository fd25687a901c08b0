@integration @faults @oom @needs.cgroups @needs.kmsg @p1 @cap.oom-detection
@contract.hive.cgroups @contract.queen.error-codes @contract.hive.worker-records
Feature: Workers killed by the kernel's OOM killer
  Each worker runs in its own cgroup with the hive's memory limit. A worker that needs more
  is SIGKILLed by the kernel; the hive tells an OOM kill from any other SIGKILL by the
  cgroup's own oom_kill counter, and the client gets [ERROR] WORKER_OOM. The hive itself is
  unharmed, and the worker's registry entry, cgroup and port are gone. The harness confirms
  each kill itself, in the kernel's log (/dev/kmsg: the OOM kill in the worker's cgroup), not
  only by what the hive says.

  Scenario: A worker runs out of memory while it loads its model
    Given a stack with 1 hive where:
      | setting                    | value     |
      | hive --worker-memory-limit | 96 MiB    |
      | hive --worker-args         | --no-mmap |
    When I submit an infer job for model "slowllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_OOM" within 60 seconds
    And the job's stream has narration "job_failed" from "queen-rbee" mentioning "ran out of memory"
    And hive "hive-1" reports the job's spawned worker "killed by SIGKILL, by the kernel's OOM killer"
    And the kernel's own log shows the OOM kill of the job's spawned worker
    And the job's spawned worker has no process, no cgroup and no registry entry left
    And hive "hive-1" still answers and spawns a ready worker for "tinyllama"

  @contract.worker.context-grow
  Scenario: A worker runs out of memory during a job whose context it must grow
    Given a stack with 1 hive where:
      | setting                    | value     |
      | hive --worker-memory-limit | 148 MiB   |
      | hive --worker-args         | --no-mmap |
    And a completed job for model "slowllama"
    When I submit an infer job for model "slowllama" with 3000 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_OOM" within 60 seconds
    And the job's stream has narration "context_grow" from "llm-worker-rbee"
    And the job's stream has no narration "job_retry"
    And hive "hive-1" reports the job's worker ended "killed by SIGKILL, by the kernel's OOM killer"
    And the kernel's own log shows the OOM kill of the job's running worker
    And queen no longer lists the job's worker within 2 seconds
    And a job for model "tinyllama" completes
