@integration @operations @provisioning @cap.provisioning
Feature: Provisioning reports its progress, and each hub or disk problem ends it with its own code
  `POST /v1/models/provision` with `Accept: text/event-stream` answers the download's progress
  as it goes: a `progress` event `{bytes, total, percent}` at every 10 % crossed and at the end,
  then `done` and `[DONE]`, or `[ERROR] CODE: message`. A hub that answers 404 ends it with
  `MODEL_NOT_FOUND_UPSTREAM`, 401 or 403 with `UPSTREAM_FORBIDDEN`, a hub that stops sending for
  `--download-stall-timeout` with `DOWNLOAD_STALLED`. A file whose sha256 does not match is
  deleted, never installed (`CHECKSUM_MISMATCH`), and the next attempt downloads it again. A
  partial file a crashed hive left is resumed by the next attempt. The catalog changes only
  when a download succeeds.

  @p1
  @contract.hive.provision-progress
  Scenario: The provision stream reports bytes, total and percent at every 10 % and at the end
    Given a stack with 1 hive
    And a model hub that serves "hubllama" (the bytes of tinyllama) at 512 KiB/s
    When a client follows hive "hive-1"'s provisioning of "hubllama" from the hub
    Then the provision stream ends with "[DONE]" within 30 seconds
    And its progress events report bytes, total and percent, at least every 10 % and at 100 %
    And hive "hive-1" lists the model "hubllama"

  @p1
  @contract.hive.provision-errors
  Scenario Outline: A hub that answers <status> ends the provisioning with <code>, and nothing is installed
    Given a stack with 1 hive
    And a model hub that answers <status> for "hubllama"
    When a client asks hive "hive-1" to provision "hubllama" from the hub, expecting the sha256 of tinyllama
    Then the hive answers 502 with code "<code>"
    And hive "hive-1" neither lists the model "hubllama" nor keeps any file of it

    Examples:
      | status | code                     |
      | 404    | MODEL_NOT_FOUND_UPSTREAM |
      | 401    | UPSTREAM_FORBIDDEN       |
      | 403    | UPSTREAM_FORBIDDEN       |

  @p1
  @contract.hive.provision-errors
  Scenario: A download that stalls ends after the stall bound with DOWNLOAD_STALLED
    Given a stack with 1 hive where:
      | setting                       | value     |
      | hive --download-stall-timeout | 2 seconds |
    And a model hub that serves "hubllama" (the bytes of tinyllama) and stalls at 50 %
    When a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the hive answers 504 with code "DOWNLOAD_STALLED"
    And hive "hive-1" does not list the model "hubllama"

  @p1
  @contract.hive.provision-errors
  Scenario: A file whose sha256 does not match is never installed, and the next attempt downloads it again
    Given a stack with 1 hive
    And a model hub that serves "hubllama" as the bytes of tinyllama with one byte changed
    When a client asks hive "hive-1" to provision "hubllama" from the hub, expecting the sha256 of tinyllama
    Then the hive answers 502 with code "CHECKSUM_MISMATCH"
    And the hive's answer does not carry the sha256 of what the hub served
    And hive "hive-1" neither lists the model "hubllama" nor keeps any file of it
    When the hub serves the true bytes of tinyllama as "hubllama"
    And a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the client gets the model "hubllama" with the hub's sha256
    And the hub was asked for "hubllama" twice, each time from the start
    And a job for model "hubllama" completes

  @p1 @cap.adoption
  @contract.hive.provision
  Scenario: A partial file a crashed hive left is resumed by the next attempt
    Given a stack with 1 hive
    And a model hub that serves "hubllama" (the bytes of tinyllama) at 64 KiB/s
    When a client follows hive "hive-1"'s provisioning of "hubllama" from the hub
    And the provision stream has reported at least 30 %
    And the rbee-hive process of hive "hive-1" is killed with SIGKILL and comes back
    And a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the client gets the model "hubllama" with the hub's sha256
    And the hub's last request for "hubllama" went on from where the crashed hive had got to
    And a job for model "hubllama" completes

  @p1
  @contract.hive.model-hubs
  Scenario: Provisioning from a URL outside the hive's hubs is refused before anything is fetched
    Given a stack with 1 hive
    And a model hub that serves "hubllama" (the bytes of tinyllama) at 1024 KiB/s
    Then hive "hive-1" refuses to provision "hubllama" from each of these URLs with 403 "URL_NOT_ALLOWED":
      | where                           |
      | queen's address                 |
      | the hub's host under https      |
      | the hub's host with a user name |
    And the hub was asked for nothing
    And hive "hive-1" neither lists the model "hubllama" nor keeps any file of it
