"""Development tooling: the local Slack sandbox, signed request client, simulated organisation
and the demo. Used only by the CLI's ``demo``, the tests and the benchmarks."""
