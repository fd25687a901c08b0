@integration @operations @metrics @cap.alerting-metrics
@contract.queen.metrics @contract.hive.metrics
Feature: The series an operator alerts on move for the events they count, and only for them
  Queen counts jobs by terminal code (`rbee_queen_jobs_total{code}`) and times them
  (`rbee_queen_job_duration_seconds`, `_queue_wait_seconds`, `_time_to_first_token_seconds`,
  `_request_seconds{method,route}`). Hives count worker spawns, start timeouts, OOM kills and
  health-check removals (`rbee_hive_worker_*_total`); workers time their loads and rates
  (`rbee_worker_load_seconds`, `rbee_worker_tokens_per_second`). Every daemon counts the
  requests it refused for their credentials (`rbee_auth_failures_total{reason}`). Each scenario
  reads `/metrics` before and after one event and checks how far each series moved.

  @p1
  @contract.worker.metrics
  Scenario: A completed job moves the job series, the spawn counter and the worker's histograms by one
    Given a stack with 1 hive
    And the metrics of queen and hive "hive-1" are noted
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with "[DONE]" within 60 seconds
    And these series moved by exactly:
      | daemon | series                                                            | by |
      | queen  | rbee_queen_jobs_total{code="DONE"}                                | 1  |
      | queen  | rbee_queen_job_duration_seconds_count                             | 1  |
      | queen  | rbee_queen_queue_wait_seconds_count                               | 1  |
      | queen  | rbee_queen_time_to_first_token_seconds_count                      | 1  |
      | queen  | rbee_queen_request_seconds_count{method="POST",route="/v1/jobs"}  | 1  |
      | hive-1 | rbee_hive_worker_spawns_total                                     | 1  |
      | hive-1 | rbee_hive_worker_start_timeouts_total                             | 0  |
      | worker | rbee_worker_load_seconds_count                                    | 1  |
      | worker | rbee_worker_tokens_per_second_count                               | 1  |

  @p1 @oom @needs.cgroups @cap.oom-detection
  Scenario: One OOM kill moves the hive's OOM counter and queen's WORKER_OOM count by one
    Given a stack with 1 hive where:
      | setting                    | value     |
      | hive --worker-memory-limit | 96 MiB    |
      | hive --worker-args         | --no-mmap |
    And the metrics of queen and hive "hive-1" are noted
    When I submit an infer job for model "slowllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_OOM" within 60 seconds
    And these series moved by exactly:
      | daemon | series                                       | by |
      | queen  | rbee_queen_jobs_total{code="WORKER_OOM"}     | 1  |
      | queen  | rbee_queen_jobs_total{code="DONE"}           | 0  |
      | hive-1 | rbee_hive_worker_oom_kills_total             | 1  |
      | hive-1 | rbee_hive_worker_spawns_total                | 1  |

  @p1
  Scenario: A start timeout moves its counters by one
    Given a stack with 1 hive where:
      | setting                     | value                      |
      | workers                     | hang before they are ready |
      | hive --worker-start-timeout | 3 seconds                  |
    And the metrics of queen and hive "hive-1" are noted
    When I submit an infer job for model "tinyllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] WORKER_START_TIMEOUT" between 3 and 20 seconds after it was submitted
    And these series moved by exactly:
      | daemon | series                                                  | by |
      | queen  | rbee_queen_jobs_total{code="WORKER_START_TIMEOUT"}      | 1  |
      | hive-1 | rbee_hive_worker_start_timeouts_total                   | 1  |
      | hive-1 | rbee_hive_worker_oom_kills_total                        | 0  |

  @p1 @cap.worker-health
  Scenario: A health-check removal moves its counter by one
    Given a stack with 1 hive where:
      | setting                       | value       |
      | hive --worker-health-interval | 0.5 seconds |
      | hive --worker-health-failures | 3           |
    And a completed job for model "tinyllama" on hive "hive-1"
    And the metrics of queen and hive "hive-1" are noted
    And the "tinyllama" worker of hive "hive-1" is paused with SIGSTOP
    Then hive "hive-1" reports the paused worker failed with code "WORKER_UNHEALTHY" between 1 and 15 seconds after it was paused
    And these series moved by exactly:
      | daemon | series                                       | by |
      | hive-1 | rbee_hive_worker_unhealthy_removals_total    | 1  |
      | hive-1 | rbee_hive_worker_oom_kills_total             | 0  |

  @p1 @cap.auth
  @contract.daemon.auth-failures-metric
  Scenario: A refused credential moves the auth failure count of its reason by one
    Given a stack with 1 hive
    And the metrics of queen and hive "hive-1" are noted
    When a client asks queen for a job with an unknown token
    Then queen answers 401 with code "UNAUTHENTICATED"
    And these series moved by exactly:
      | daemon | series                                          | by |
      | queen  | rbee_auth_failures_total{reason="invalid"}      | 1  |
      | queen  | rbee_auth_failures_total{reason="expired"}      | 0  |
      | queen  | rbee_queen_jobs_total{code="DONE"}              | 0  |
