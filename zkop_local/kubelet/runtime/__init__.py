"""The process pod runtime. Entry points (import from the modules; this package stays import-light because
the container launcher runs from it before exec):

- `runtime.PodRuntime`: run/stop pods, status, logs, exec, fault injection;
- `cleanup.cleanup(state_dir)` and `cleanup.cleanup_leftovers()`: remove everything by markers;
- `hosts.cluster_records(pods, services)`: hosts lines as cluster DNS would answer;
- `images.table.ImageTable`: image references -> local runtimes;
- `sources.StaticSources`: in-memory ConfigMaps/Secrets/claims for standalone use.
"""
