@integration @keeper-cli @p1
@contract.keeper.usage
Feature: rbee-keeper behaves as a command line should
  Help, usage errors, an unreachable queen: each gives a clear message and a meaningful
  exit code, never a traceback.

  Scenario: --help shows the commands
    When I run rbee-keeper with --help
    Then rbee-keeper exits with code 0
    And rbee-keeper printed "infer" on stdout

  Scenario: Bad arguments are a usage error
    When I run rbee-keeper with infer --max-tokens many "hi"
    Then rbee-keeper exits with code 2
    And rbee-keeper printed one line on stderr starting with "rbee-keeper"

  Scenario: An unreachable queen fails fast and clearly
    Given no queen listens at the address rbee-keeper is given
    When I run rbee-keeper with infer --model tinyllama "hi"
    Then rbee-keeper exits with code 1
    And rbee-keeper printed one line on stderr starting with "❌ Failed: cannot reach queen"
    And rbee-keeper took less than 2 seconds
