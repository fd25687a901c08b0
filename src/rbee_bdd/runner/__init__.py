"""Running the suite: behave's hooks, parallel processes and shards, the scenario's World, tags, log scan, reaper."""
