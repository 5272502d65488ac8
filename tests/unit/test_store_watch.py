"""Property: a watcher that replays events from a list's version ends with the same set as a
fresh list, whatever writes happen, and selector transitions are translated correctly."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.labels import parse_selector
from daemon.simulator.errors import ApiError
from daemon.simulator.store import Store, Watcher

names = st.sampled_from(["a", "b", "c", "d"])
namespaces = st.sampled_from(["ns1", "ns2"])
colors = st.sampled_from(["red", "blue", "green"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), namespaces, names, colors),
        st.tuples(st.just("delete"), namespaces, names, st.just("")),
    ),
    max_size=40,
)


def apply(store: Store, op: tuple[str, str, str, str]) -> None:
    kind, namespace, name, color = op
    current = store.get("pods", namespace, name)
    if kind == "delete":
        if current is not None:
            store.remove("pods", namespace, name)
        return
    obj = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "labels": {"color": color}},
    }
    if current is None:
        store.create("pods", "pods", obj)
    else:
        updated = copy.deepcopy(current)
        updated["metadata"]["labels"] = {"color": color}
        store.replace("pods", "pods", updated)


def translate(event, accepts) -> str | None:
    """Mirror of the server's selector-transition rule, restated from the API docs."""
    now = accepts(event.obj)
    was = event.old is not None and accepts(event.old)
    if event.type == "ADDED":
        return "ADDED" if now else None
    if event.type == "DELETED":
        return "DELETED" if was or now else None
    if now and was:
        return "MODIFIED"
    return "ADDED" if now else "DELETED" if was else None


@settings(max_examples=200, deadline=None)
@given(
    before=operations,
    after=operations,
    selector=st.sampled_from(["", "color=red", "color!=red", "color in (blue,green)"]),
    namespace=st.sampled_from([None, "ns1"]),
)
def test_replayed_watch_matches_a_fresh_list(before, after, selector, namespace) -> None:
    store = Store(history=1000, seed=1)
    for op in before:
        apply(store, op)
    parsed = parse_selector(selector)

    def accepts(obj) -> bool:
        in_ns = namespace is None or obj["metadata"]["namespace"] == namespace
        return in_ns and parsed.matches(obj["metadata"].get("labels"))

    listed = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for o in store.items("pods", namespace)
        if accepts(o)
    }
    since = store.rv
    for op in after:
        apply(store, op)
    watcher = Watcher("pods", accepts, namespace)
    view = dict(listed)
    for event in store.watch(watcher, since):
        kind = translate(event, accepts)
        key = (event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])
        if kind in ("ADDED", "MODIFIED"):
            view[key] = event.obj["metadata"]["resourceVersion"]
        elif kind == "DELETED":
            view.pop(key, None)
    fresh = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for o in store.items("pods", namespace)
        if accepts(o)
    }
    assert view == fresh


@settings(max_examples=50, deadline=None)
@given(ops=operations)
def test_live_events_equal_replayed_events(ops) -> None:
    store = Store(history=1000, seed=2)
    start = store.rv
    live = Watcher("pods", lambda o: True, None)
    store.watch(live, None)
    for op in ops:
        apply(store, op)
    received = []
    while not live.events.empty():
        received.append(live.events.get())
    replayed = store.watch(Watcher("pods", lambda o: True, None), start)
    assert [(e.rv, e.type) for e in received] == [(e.rv, e.type) for e in replayed]


def test_compacted_history_is_410() -> None:
    store = Store(history=10, seed=3)
    first = store.rv
    for i in range(30):
        apply(store, ("put", "ns1", f"p{i % 3}", "red" if i % 2 else "blue"))
    with pytest.raises(ApiError) as caught:
        store.watch(Watcher("pods", lambda o: True, None), first)
    assert caught.value.code == 410
    assert caught.value.reason == "Expired"
    assert caught.value.message.startswith(f"too old resource version: {first} (")


def test_slow_watcher_is_closed_not_unbounded() -> None:
    store = Store(history=100, seed=4)
    watcher = Watcher("pods", lambda o: True, None, max_queue=5)
    store.watch(watcher, None)
    for i in range(20):
        apply(store, ("put", "ns1", f"p{i}", "red"))
    assert watcher.closed
    assert "too slow" in watcher.reason
