"""`seed:` checks that run with every command (no loader imports) and fixture problems reported together."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.seed import SEEDERS, seeder_class, spec_class
from devstack.seed.base import Fixture, SeedError
from devstack.services import catalog


@pytest.mark.parametrize("kind", sorted(SEEDERS))
def test_each_seeder_checks_seed_like_its_light_spec(kind):
    spec, seeder = spec_class(catalog.get(kind)), seeder_class(catalog.get(kind))
    assert spec.__module__ == "devstack.seed.specs"
    assert (seeder.extensions, seeder.entry_keys) == (spec.extensions, spec.entry_keys)
    assert seeder.parse.__func__ is spec.parse.__func__ or issubclass(seeder, spec)


def test_checking_seed_imports_no_loader():
    code = ("import sys\nfrom devstack import seed\nfrom devstack.services import catalog\n"
            "[seed.spec_class(catalog.get(k)) for k in seed.SEEDERS]\n"
            "print(sorted(m for m in sys.modules if m.startswith('devstack.seed.') or m in ('urllib.request', 'psycopg')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['devstack.seed.base', 'devstack.seed.specs']"


def test_a_redis_fixture_with_three_bad_keys_reports_all_three(tmp_path):
    from devstack.seed.redis import Stream

    path = tmp_path / "keys.yaml"
    path.write_text("good: x\nbad1: [1, 2]\nbad2: {hash: {}}\nok: {set: [a]}\nbad3: {zset: {m: high}}\n")
    other = tmp_path / "other.yaml"
    other.write_text("x: [unclosed\n")
    with pytest.raises(SeedError) as info:
        Stream([Fixture(path, "keys.yaml"), Fixture(other, "other.yaml")])
    message = info.value.message
    assert message.startswith("4 problems in the fixtures")
    for where in ("keys.yaml:2: key `bad1`", "keys.yaml:3: key `bad2`", "keys.yaml:5: key `bad3`", "other.yaml:2: invalid YAML"):
        assert where in message, message
    assert info.value.intact  # found before redis is touched
