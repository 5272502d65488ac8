from __future__ import annotations

import pytest

from daemon.simulator.errors import ApiError
from daemon.simulator.patch import JSON_PATCH, MERGE, STRATEGIC, apply_patch

POD = {
    "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
    "spec": {
        "containers": [
            {"name": "app", "image": "v1", "env": [{"name": "X", "value": "1"}]},
            {"name": "side", "image": "s1"},
        ]
    },
}


def test_merge_patch_replaces_lists_and_deletes_with_null() -> None:
    out = apply_patch(
        MERGE,
        POD,
        {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"containers": [{"name": "x"}]}},
    )
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert out["spec"]["containers"] == [{"name": "x"}]
    assert POD["metadata"]["labels"] == {"a": "1", "b": "2"}  # input untouched


def test_strategic_merge_merges_containers_by_name() -> None:
    out = apply_patch(
        STRATEGIC,
        POD,
        {
            "spec": {
                "containers": [{"name": "app", "image": "v2", "env": [{"name": "Y", "value": "2"}]}]
            }
        },
    )
    app, side = out["spec"]["containers"]
    assert app["image"] == "v2"
    assert [e["name"] for e in app["env"]] == ["X", "Y"]
    assert side == {"name": "side", "image": "s1"}
    removed = apply_patch(
        STRATEGIC, POD, {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}
    )
    assert [c["name"] for c in removed["spec"]["containers"]] == ["app"]


def test_json_patch_operations() -> None:
    out = apply_patch(
        JSON_PATCH,
        POD,
        [
            {"op": "replace", "path": "/metadata/labels/a", "value": "9"},
            {"op": "add", "path": "/metadata/labels/k8s.io~1x", "value": "y"},
            {"op": "remove", "path": "/spec/containers/1"},
            {"op": "test", "path": "/metadata/name", "value": "p"},
        ],
    )
    assert out["metadata"]["labels"] == {"a": "9", "b": "2", "k8s.io/x": "y"}
    assert len(out["spec"]["containers"]) == 1
    with pytest.raises(ApiError) as caught:
        apply_patch(JSON_PATCH, POD, [{"op": "test", "path": "/metadata/name", "value": "q"}])
    assert caught.value.code == 422
    with pytest.raises(ApiError) as caught:
        apply_patch(JSON_PATCH, POD, [{"op": "remove", "path": "/metadata/nope"}])
    assert caught.value.code == 422


def test_unknown_media_type_is_415() -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch("application/yaml", POD, {})
    assert caught.value.code == 415
