@integration @operations @lifecycle
Feature: A hive removes a worker that stops answering, and reaps every worker that ends
  Every `--worker-health-interval` seconds the hive asks each ready worker's `/v1/ready`. After
  2 failures in a row the worker is `unhealthy` (queen routes nothing to it); after
  `--worker-health-failures` in a row (default 10; 0: never) it is killed — SIGKILL to it, its
  process group and its cgroup, since a hung worker would not honour SIGTERM —, narrates
  `worker_unhealthy_removed`, and its record says `state: failed`,
  `error_code: WORKER_UNHEALTHY`. One that answers again before that is `ready` again and
  keeps serving. Whatever way a worker ends, the hive reaps it at once: no zombie remains.

  @p1 @cap.worker-health
  @contract.hive.health-checks @contract.hive.unhealthy-removal @contract.worker.ready
  Scenario: A worker that fails its health checks too often in a row is killed and removed
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-health-interval | 0.5 seconds |
      | hive --worker-health-failures | 3           |
    And a completed job for model "tinyllama" on hive "hive-1"
    And the "tinyllama" worker of hive "hive-1" is paused with SIGSTOP
    Then hive "hive-1" reports the paused worker failed with code "WORKER_UNHEALTHY" between 1 and 15 seconds after it was paused
    And the paused worker has no process, no cgroup and no registry entry left
    And hive "hive-1" has no zombie process within 2 seconds
    And queen lists hive "hive-1" as available
    And the next job for model "tinyllama" starts a new worker

  @p1 @cap.worker-health
  @contract.hive.health-checks
  Scenario: A worker that answers again before the removal bound stays and serves
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-health-interval | 0.5 seconds |
      | hive --worker-health-failures | 12          |
    And a completed job for model "tinyllama" on hive "hive-1"
    And the "tinyllama" worker of hive "hive-1" is paused with SIGSTOP
    And queen lists the paused worker as "unhealthy" within 8 seconds
    When the paused worker is resumed with SIGCONT
    Then queen lists the paused worker as "ready" within 5 seconds
    And the next job for model "tinyllama" runs on the paused worker

  @p1
  @contract.hive.reap
  Scenario: A worker killed from outside is reaped at once
    Given a stack with 1 hive
    And a completed job for model "tinyllama" on hive "hive-1"
    When the job's worker is killed with SIGKILL
    Then hive "hive-1" has no zombie process within 2 seconds
    And hive "hive-1" has no worker, no worker cgroup and no worker queen knows of
