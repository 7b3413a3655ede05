"""Namespace controller: every active namespace gets the ``default`` ServiceAccount.

Draining a terminating namespace (deleting its contents, then the ``kubernetes`` finalizer) is done
inside the local API server (``zkop_local/apiserver``), so this controller does not duplicate it.
"""

from __future__ import annotations

import datetime as dt

from .actions import Action, Create
from .loop import Controller
from .objects import Obj, is_terminating, name_of, namespace_of, status_of
from .resources import NAMESPACE, SERVICE_ACCOUNT

DEFAULT_SERVICE_ACCOUNT = "default"


def decide_service_accounts(namespaces: list[Obj], accounts: list[Obj]) -> list[Action]:
    have = {namespace_of(sa) for sa in accounts if name_of(sa) == DEFAULT_SERVICE_ACCOUNT}
    return [
        Create(
            SERVICE_ACCOUNT,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": name_of(ns)},
            },
            reason="every namespace has one",
        )
        for ns in namespaces
        if name_of(ns) not in have and not is_terminating(ns) and status_of(ns).get("phase") != "Terminating"
    ]


class NamespaceController(Controller):
    name = "namespace"
    watches = (NAMESPACE, SERVICE_ACCOUNT)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        # One plan per namespace: a namespace that refuses creation must not hold up the others.
        return [
            [a] for a in decide_service_accounts(self.store.list(NAMESPACE), self.store.list(SERVICE_ACCOUNT))
        ]
