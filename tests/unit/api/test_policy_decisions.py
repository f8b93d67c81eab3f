"""Policy decisions kept per (rule, caller, owner) answer as the rules do, for every caller."""

from __future__ import annotations

from sirocco.api.identity import Caller
from sirocco.api.policy import Policy


def test_each_caller_and_owner_gets_its_own_decision() -> None:
    policy = Policy(
        {"admin_only": "is_admin:True", "x:get": "role:reader and project_id:%(project_id)s"}
    )
    reader = Caller(project_id="p1", roles=frozenset({"reader"}))
    other = Caller(project_id="p2", roles=frozenset({"reader"}))
    admin = Caller(project_id="p1", roles=frozenset({"admin"}))
    for _ in range(2):  # the second round answers from the kept decisions
        assert policy.allows("x:get", reader)
        assert not policy.allows("x:get", reader, owner="p2")
        assert policy.allows("x:get", other, owner="p2")
        assert not policy.allows("x:get", admin)
        assert policy.allows("admin_only", admin)
        assert not policy.allows("admin_only", reader)
        assert not policy.allows("unknown", admin)


def test_rules_joined_with_or_and_and() -> None:
    policy = Policy({"r": "role:a and role:b or is_admin:True", "s": "rule:r or !"})
    assert policy.allows("s", Caller(project_id="p", roles=frozenset({"a", "b"})))
    assert not policy.allows("s", Caller(project_id="p", roles=frozenset({"a"})))
    assert policy.allows("s", Caller(project_id="p", roles=frozenset({"admin"})))
