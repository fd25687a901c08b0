"""The host's view and hands: cgroups, the kernel's log, network rules, signals, balloons, processes, the engine."""
