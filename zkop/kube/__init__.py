"""The Kubernetes adapter: lightkube AsyncClient, server-side apply under the field manager `zkop`."""
