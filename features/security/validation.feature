@integration @security @validation
Feature: Bad input is refused with a clear, safe error and changes nothing
  Every daemon checks what it is sent before acting: a model name is an identifier, never a
  path; numbers stay in their ranges; unknown fields and wrong JSON types are refused, not
  guessed at; bodies are JSON and bounded. A refusal names the field, carries the request's
  correlation id, and never a traceback, a filesystem path, an address or a credential.

  Background:
    Given a stack with 1 hive

  @p0
  @contract.err.invalid-request @contract.err.refused-changes-nothing @contract.err.shape @contract.daemon.no-traceback
  Scenario Outline: queen refuses a job whose <field> is <value>
    When a client asks queen for a job whose <field> is <value>
    Then queen answers 422 with code "INVALID_REQUEST" naming the field "<field>"
    And the error body is safe and carries the request's correlation id
    And queen has taken no job

    Examples:
      | field       | value                |
      | model       | "../../etc/passwd"   |
      | model       | "/models/tinyllama"  |
      | model       | "tiny\u0000llama"    |
      | model       | 200 letters          |
      | max_tokens  | 0                    |
      | max_tokens  | 5000                 |
      | max_tokens  | "12"                 |
      | temperature | -0.5                 |
      | temperature | 2.5                  |
      | top_p       | 0                    |
      | top_p       | 1.5                  |
      | seed        | -1                   |
      | timeout_s   | 0                    |
      | prompt      | 20000 letters        |
      | colour      | "blue"               |

  @p0
  @contract.queen.jobs-post
  Scenario: A prompt of any Unicode text is served, whatever the model's vocabulary holds
    # found by make fuzz: llama.cpp aborted the worker (std::out_of_range) on "é", because the
    # generated models had no byte-fallback tokens, as every real SentencePiece vocabulary has
    When a client asks queen for a job whose prompt is "Grüße aus 東京 🐝 \u000e\u0007 é"
    Then queen accepts the job and its stream ends with "[DONE]" within 60 seconds
    And hive "hive-1" runs 1 worker process for model "tinyllama"

  @p1
  @contract.err.malformed-json @contract.err.body-too-large @contract.err.media-type
  Scenario Outline: queen refuses a body that is <body>
    When a client posts to queen's jobs a body that is <body>
    Then queen answers <status> with code "<code>"
    And the error body is safe and carries the request's correlation id
    And queen has taken no job
    And queen still answers its health check

    Examples:
      | body                       | status | code                   |
      | not JSON                   | 415    | UNSUPPORTED_MEDIA_TYPE |
      | malformed JSON             | 400    | MALFORMED_JSON         |
      | JSON nested 100000 deep    | 400    | MALFORMED_JSON         |
      | JSON with invalid UTF-8    | 400    | MALFORMED_JSON         |
      | JSON with a 5000-digit number | 400 | MALFORMED_JSON         |
      | 2 MiB of JSON              | 413    | BODY_TOO_LARGE         |
      | 2 MiB of JSON, chunked     | 413    | BODY_TOO_LARGE         |

  @p0
  @contract.sec.identifiers @contract.sec.strict-bodies
  Scenario Outline: a hive asked to provision the model <name> refuses and touches no file
    When I ask hive "hive-1" to provision the model <name>
    Then hive "hive-1" answers 422 with code "INVALID_REQUEST" naming the field "name"
    And the error body is safe and carries the request's correlation id
    And hive "hive-1"'s model catalog and folders are as they were

    Examples:
      | name                                 |
      | "../../../tmp/escaped"               |
      | "/tmp/escaped"                       |
      | "x'; DROP TABLE models; --"          |
      | "tinyllama\" OR \"1\"=\"1"           |

  @p1
  @contract.sec.identifiers @contract.err.refused-changes-nothing
  Scenario: A name or id with a separator, "..", NUL or a control character in its middle or at its end is refused
    Then queen refuses a job whose model is each of these values with 422 naming the field:
      | value                 |
      | "tiny/llama"          |
      | "tinyllama/"          |
      | "tiny\\llama"          |
      | "tiny/../llama"       |
      | "tinyllama/.."        |
      | "tiny\u0000llama"     |
      | "tinyllama\u0000"     |
      | "tiny\nllama"         |
      | "tinyllama\t"         |
    And queen refuses a job whose hive_id is each of these values with 422 naming the field:
      | value                 |
      | "tiny/llama"          |
      | "tinyllama/"          |
      | "tiny\\llama"          |
      | "tiny/../llama"       |
      | "tinyllama/.."        |
      | "tiny\u0000llama"     |
      | "tinyllama\u0000"     |
      | "tiny\nllama"         |
      | "tinyllama\t"         |
    And hive "hive-1" refuses a spawn whose model is each of these values with 422 naming the field:
      | value                 |
      | "tiny/llama"          |
      | "tinyllama/"          |
      | "tiny\\llama"          |
      | "tiny/../llama"       |
      | "tinyllama/.."        |
      | "tiny\u0000llama"     |
      | "tinyllama\u0000"     |
      | "tiny\nllama"         |
      | "tinyllama\t"         |
    And hive "hive-1" refuses a provisioning whose name is each of these values with 422 naming the field:
      | value                 |
      | "tiny/llama"          |
      | "tinyllama/"          |
      | "tiny\\llama"          |
      | "tiny/../llama"       |
      | "tinyllama/.."        |
      | "tiny\u0000llama"     |
      | "tinyllama\u0000"     |
      | "tiny\nllama"         |
      | "tinyllama\t"         |
    And queen has taken no job
    And hive "hive-1" runs 0 worker processes for model "tinyllama"
