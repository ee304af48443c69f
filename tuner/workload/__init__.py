"""Workload helpers: the demo database generator and workload inputs."""
