"""The three example apps' fixtures (fixtures/<app>/seed) load into real services with their `seed:` entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The `seed:` entries of fixtures/<app>/devstack.yaml (service -> extra keys), and what must be there after.
APPS = {
    "railgun": {
        "seed": {"postgres": {"seed": ["seed/postgres/"]}, "redis": {"seed": ["seed/redis/"]}, "stripe": {"seed": ["seed/stripe.yaml"]},
                 "minio": {"buckets": ["railgun-assets"], "seed": {"railgun-assets": "seed/s3/railgun-assets/"}}},
        "rows": {"users": 40, "communities": 6, "channels": 40, "memberships": 124, "billing_profiles": 40, "messages": 200},
        "keys": ["railgun:config:flags", "presence:community:1"],
        "objects": ("railgun-assets", "avatars/1.png", "image/png"),
        "product": "prod_railgun_pro",
    },
    "drone-school": {
        "seed": {"postgres": {"migrate": "./scripts/run_migrations.sh up", "seed": ["seed/postgres/"]}, "redis": {"seed": ["seed/redis/"]},
                 "stripe": {"seed": ["seed/stripe.yaml"]},
                 "minio": {"buckets": ["drone-school-assets"], "seed": {"drone-school-assets": "seed/s3/drone-school-assets/"}}},
        "rows": {"users": 60, "courses": 6, "lessons": 39, "enrollments": 115, "payments": 124, "course_materials": 12, "schema_migrations": 2},
        "keys": ["jwt:denylist", "course:part-107-exam-prep:enrolled_count"],
        "objects": ("drone-school-assets", "courses/part-107-exam-prep/syllabus.pdf", "application/pdf"),
        "product": "prod_ds_part_107_exam_prep",
    },
    "between-sessions": {
        "seed": {"postgres": {"seed": ["seed/postgres/"]}, "redis": {"seed": ["seed/redis/"]}, "stripe": {"seed": ["seed/stripe.yaml"]},
                 "minio": {"buckets": ["between-sessions-uploads"], "seed": {"between-sessions-uploads": "seed/s3/between-sessions-uploads/"}}},
        "rows": {"users": 48, "practices": 3, "practice_members": 9, "therapist_clients": 39, "appointments": 158, "assignments": 54,
                 "check_ins": 126, "subscriptions": 3},
        "keys": ["flags:cache"],
        "objects": ("between-sessions-uploads", "worksheets/thought-record.pdf", "application/pdf"),
        "product": "prod_bs_practice",
    },
}


@pytest.mark.parametrize("app", list(APPS))
def test_example_app_fixtures_load(project, app):
    spec = APPS[app]
    source = REPO / "fixtures" / app
    for part in ("seed", "scripts", "migrations"):
        if (source / part).exists():
            shutil.copytree(source / part, project.root / part)
    bucket = spec["objects"][0]
    # Each test run gets its own buckets on the shared S3 server: rename the bucket in the manifest only.
    mine = f"{bucket}-{project.bucket[-8:]}"
    minio = dict(spec["seed"]["minio"], buckets=[mine], seed={mine: next(iter(spec["seed"]["minio"]["seed"].values()))})
    project.manifest({"db": project.service("postgres", **spec["seed"]["postgres"]), "redis": project.service("redis", **spec["seed"]["redis"]),
                      "stripe": project.service("stripe", **spec["seed"]["stripe"]), "s3": project.service("minio", **minio)},
                     env={"DATABASE_URL": "{{ db.url }}"})
    project.seed()
    with project.pg() as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in spec["rows"]}
    assert counts == spec["rows"]
    r = project.redis()
    assert all(r.exists(k) for k in spec["keys"])
    obj = project.s3().get_object(Bucket=mine, Key=spec["objects"][1])
    assert obj["ContentType"] == spec["objects"][2]
    assert project.stripe("GET", f"/v1/products/{spec['product']}")["id"] == spec["product"]
    assert any("unchanged" in m for m in project.seed())
