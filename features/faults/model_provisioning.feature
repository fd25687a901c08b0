@integration @faults @concurrency @provisioning @p1 @cap.provisioning
@contract.hive.provision
Feature: Provisioning a model from a model hub
  A hive downloads a model it lacks from a model hub (here one the harness runs). However
  many clients ask for the same model at once, it is downloaded once and all of them get it.
  A download that breaks goes on from where it stopped with a Range request, and the file
  must match its sha256 before the hive serves it.

  Scenario: 3 clients ask for the same model at once: one download
    Given a stack with 1 hive
    And a model hub that serves "hubllama" (the bytes of tinyllama) at 512 KiB/s
    When 3 clients ask hive "hive-1" at once to provision "hubllama" from the hub
    Then all 3 clients get the model "hubllama", exactly one of them by downloading it
    And the hub was asked for "hubllama" exactly once
    And hive "hive-1" lists the model "hubllama"
    And a job for model "hubllama" completes

  Scenario: A download cut at 60 % resumes with a Range request
    Given a stack with 1 hive
    And a model hub that serves "hubllama" (the bytes of tinyllama) and cuts its first download at 60 %
    When a client asks hive "hive-1" to provision "hubllama" from the hub
    Then the client gets the model "hubllama" with the hub's sha256
    And the hub was asked for "hubllama" twice, the second time from byte 60 % on
    And a job for model "hubllama" completes
