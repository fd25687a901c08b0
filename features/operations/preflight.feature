@integration @operations @preflight
Feature: A hive checks that a model fits before it starts a worker or a download
  Before a spawn the hive checks that the model (its file's size plus 20 %) fits the memory the
  worker may use — its memory limit, else what the machine has available — and refuses with
  **507** `INSUFFICIENT_MEMORY`, both numbers in the message, before any process or cgroup
  exists. Before a download it checks the file's announced size against the free space of the
  download directory (**507** `INSUFFICIENT_DISK`, before a byte is written); a disk that fills
  while writing ends the download with **507** `DISK_FULL`, the partial file removed and the
  catalog unchanged.

  @p1
  @contract.hive.insufficient-memory
  Scenario: A model bigger than the worker's memory limit is refused before anything starts
    Given a stack with 1 hive where:
      | setting                    | value  |
      | hive --worker-memory-limit | 32 MiB |
    When I submit an infer job for model "slowllama" with 8 max tokens
    Then the job's stream ends with a marker starting "[ERROR] INSUFFICIENT_MEMORY" within 5 seconds
    And the job's error names what "slowllama" needs and the 32 MiB limit, in bytes
    And hive "hive-1" has no worker, no worker cgroup and no worker queen knows of

  @p1 @needs.tmpfs @cap.provisioning
  @contract.hive.provision-errors
  Scenario: A download whose announced size does not fit the disk is refused before a byte is written
    Given a stack with 1 hive where:
      | setting            | value   |
      | hive download disk | 256 KiB |
    And a model hub that serves "hubllama" (the bytes of tinyllama) at 512 KiB/s
    When a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the hive answers 507 with code "INSUFFICIENT_DISK"
    And the hive's answer names the file's size
    And hive "hive-1" neither lists the model "hubllama" nor keeps any file of it

  @p1 @needs.tmpfs @cap.provisioning
  @contract.hive.provision-errors
  Scenario: A disk that fills during a download ends it with DISK_FULL, and the partial file is removed
    Given a stack with 1 hive where:
      | setting            | value   |
      | hive download disk | 256 KiB |
    And a model hub that serves "hubllama" (the bytes of tinyllama) without announcing its size
    When a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the hive answers 507 with code "DISK_FULL"
    And hive "hive-1" neither lists the model "hubllama" nor keeps any file of it
    And a job for model "tinyllama" completes
