"""Every init fixture (three dependency documents, the apps' example env files): the services and the
decision for each variable are the expected ones. Pure detection: nothing is written or started."""

from __future__ import annotations

import pytest

from devstack import init
from tests.init.cases import APPS, FIXTURES, SEEDS, chosen, expected


def test_there_are_the_seed_documents_and_ten_apps_in_different_ecosystems():
    assert set(SEEDS) <= set(APPS)
    assert len(set(APPS) - set(SEEDS)) >= 10


@pytest.mark.parametrize("name", APPS)
def test_each_variable_gets_its_expected_decision(name):
    result = init.run(FIXTURES / name)
    want = expected(name)
    got = chosen(result)
    wrong = {k: (want["variables"].get(k), got.get(k)) for k in set(want["variables"]) | set(got) if want["variables"].get(k) != got.get(k)}
    assert not wrong, f"{name}: (expected, got) per variable: {wrong}"


@pytest.mark.parametrize("name", APPS)
def test_services_and_modes_are_the_expected_ones(name):
    result = init.run(FIXTURES / name)
    assert {s.name: f"{s.kind}/{s.mode}" for s in result.services} == expected(name)["services"]


@pytest.mark.parametrize("name", APPS)
def test_every_decision_says_why(name):
    result = init.run(FIXTURES / name)
    assert all(d.reason for d in result.decisions)
    assert all(s.comment for s in result.services)
