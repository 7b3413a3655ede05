"""The operator shell: one idempotent reconcile, and the kopf handlers that call it."""
