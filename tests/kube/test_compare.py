"""`covers`: a steady-state pass writes nothing, and any real difference is written."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zkop.kube.compare import covers

json_values = st.recursive(
    st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def test_server_defaults_do_not_count_as_differences() -> None:
    desired = {"spec": {"ports": [{"port": 2181, "name": "client"}]}}
    live = {"spec": {"ports": [{"port": 2181, "name": "client", "protocol": "TCP"}], "clusterIP": "10.0.0.1"}}
    assert covers(live, desired)


def test_a_changed_or_missing_field_is_a_difference() -> None:
    assert not covers({"spec": {"replicas": 3}}, {"spec": {"replicas": 5}})
    assert not covers({"spec": {}}, {"spec": {"replicas": 5}})
    assert not covers({"spec": {"l": [1, 2]}}, {"spec": {"l": [1]}})


def test_quantities_compare_by_value() -> None:
    assert covers(
        {"resources": {"requests": {"memory": "1024Mi"}}}, {"resources": {"requests": {"memory": "1Gi"}}}
    )
    assert not covers({"resources": {"limits": {"cpu": "1"}}}, {"resources": {"limits": {"cpu": "500m"}}})


def test_empty_desired_collections_match_absent_ones() -> None:
    assert covers({"metadata": {}}, {"metadata": {"labels": {}}})


@given(json_values)
def test_everything_covers_itself(value: Any) -> None:
    assert covers(value, value)


@given(st.dictionaries(st.text(max_size=4), json_values, max_size=4), st.text(max_size=4), json_values)
def test_extra_live_fields_never_matter(desired: dict[str, Any], key: str, extra: Any) -> None:
    live = dict(desired)
    if key not in live:
        live[key] = extra
    assert covers(live, desired)
