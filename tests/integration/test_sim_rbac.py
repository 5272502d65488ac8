"""RBAC enforcement: tokens map to users and ServiceAccounts; 403s read like a real server's."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.conftest import shop

RBAC = {
    "enforce": True,
    "users": [{"name": "alice", "token": "alice-token", "groups": ["dev"]}],
    "objects": [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "pod-reader"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "alice-reads", "namespace": "shop"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "User", "name": "alice"}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "chaos", "namespace": "shop"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]},
                {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "chaos", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "chaos"},
            "subjects": [{"kind": "ServiceAccount", "name": "aftershock", "namespace": "shop"}],
        },
    ],
}


def api_as(sim, token: str) -> client.CoreV1Api:
    configuration = client.Configuration()
    configuration.host = sim.url
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.CoreV1Api(client.ApiClient(configuration))


@pytest.fixture
def rbac_sim(make_sim):
    spec = shop(rbac=RBAC)
    spec["namespaces"][0]["objects"] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "aftershock"}}
    ]
    sim = make_sim(spec)
    sim.ready()
    return sim


def message(exc: ApiException) -> str:
    return json.loads(exc.body)["message"]


def test_user_reads_where_bound_and_nowhere_else(rbac_sim) -> None:
    alice = api_as(rbac_sim, "alice-token")
    assert alice.list_namespaced_pod("shop").items
    with pytest.raises(ApiException) as caught:
        alice.list_namespaced_pod("kube-system")
    assert caught.value.status == 403
    assert message(caught.value) == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system"'
    )
    with pytest.raises(ApiException) as caught:
        alice.delete_namespaced_pod("debug", "shop")
    assert message(caught.value) == (
        'pods "debug" is forbidden: User "alice" cannot delete resource "pods" in API group "" in the namespace "shop"'
    )
    assert json.loads(caught.value.body)["reason"] == "Forbidden"


def test_service_account_token_from_token_request(rbac_sim) -> None:
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=["api"]))
    token = rbac_sim.core.create_namespaced_service_account_token(
        "aftershock", "shop", request
    ).status.token
    chaos = api_as(rbac_sim, token)
    pod = chaos.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    chaos.create_namespaced_pod_eviction(
        pod.metadata.name,
        "shop",
        client.V1Eviction(metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace="shop")),
    )
    with pytest.raises(ApiException) as caught:
        chaos.list_node()
    assert message(caught.value) == (
        'nodes is forbidden: User "system:serviceaccount:shop:aftershock" cannot list resource "nodes" '
        'in API group "" at the cluster scope'
    )
    with pytest.raises(ApiException) as caught:
        chaos.create_namespaced_config_map("shop", {"metadata": {"name": "x"}})
    assert caught.value.status == 403


def test_bad_token_is_401_and_discovery_is_open(rbac_sim) -> None:
    with pytest.raises(ApiException) as caught:
        api_as(rbac_sim, "wrong").list_namespaced_pod("shop")
    assert caught.value.status == 401
    alice = api_as(rbac_sim, "alice-token")
    assert client.VersionApi(alice.api_client).get_code().major == "1"


def test_token_review_and_subject_access_review(rbac_sim) -> None:
    review = client.AuthenticationV1Api(rbac_sim.api_client).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token="alice-token"))
    )
    assert review.status.authenticated
    assert review.status.user.username == "alice"
    assert "dev" in review.status.user.groups
    bad = client.AuthenticationV1Api(rbac_sim.api_client).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token="nope"))
    )
    assert not bad.status.authenticated
    authz = client.AuthorizationV1Api(rbac_sim.api_client)

    def allowed(verb: str, namespace: str) -> bool:
        return authz.create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user="alice",
                    groups=["dev"],
                    resource_attributes=client.V1ResourceAttributes(
                        verb=verb, resource="pods", namespace=namespace
                    ),
                )
            )
        ).status.allowed

    assert allowed("list", "shop")
    assert not allowed("delete", "shop")
    assert not allowed("list", "kube-system")
