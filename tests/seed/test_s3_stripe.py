"""S3 (moto server) and Stripe (devstack's emulator; a stateless stand-in for stripe-mock) seeding."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.errors import ManifestError
from devstack.seed import SeedError

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a7b3e5b90000000049454e44ae426082")


def objects(s3, bucket) -> dict:
    out = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        obj = s3.get_object(Bucket=bucket, Key=item["Key"])
        out[item["Key"]] = (obj["ContentType"], obj["Body"].read())
    return out


def s3_setup(project):
    project.file("seed/s3/avatars/users/1.png", PNG)
    project.file("seed/s3/avatars/users/2.png", PNG + b"2")
    project.file("seed/s3/avatars/.gitkeep", "")
    project.file("seed/s3/docs/syllabus.pdf", b"%PDF-1.4\n%%EOF\n")
    project.file("seed/s3/docs/notes.md", "# notes\n")
    assets, uploads = project.bucket + "-assets", project.bucket + "-uploads"
    project.manifest({"files": project.service("minio", buckets=[uploads], seed={assets: ["seed/s3/avatars/", "seed/s3/docs/*.pdf"]})})
    return assets, uploads


def test_buckets_created_and_tree_uploaded_with_content_types(project):
    assets, uploads = s3_setup(project)
    out = project.seed()
    assert any("3 objects" in m for m in out), out
    s3 = project.s3()
    assert objects(s3, uploads) == {}  # created even with no fixtures
    got = objects(s3, assets)
    assert got == {"users/1.png": ("image/png", PNG), "users/2.png": ("image/png", PNG + b"2"), "syllabus.pdf": ("application/pdf", b"%PDF-1.4\n%%EOF\n")}
    # the snapshot is not a bucket the app would see next to its own
    mine = sorted(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(project.bucket))
    assert mine == sorted([assets, uploads])
    snapshot = project.root / ".devstack" / "seed" / "files.s3"
    assert sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()) == [
        f"{assets}/syllabus.pdf", f"{assets}/users/1.png", f"{assets}/users/2.png"]


def test_public_bucket_gets_an_anonymous_read_policy(project):
    import json

    public, private = project.bucket + "-cdn", project.bucket + "-private"
    project.manifest({"files": project.service("minio", buckets=[{"name": public, "public": True}, private])})
    project.seed()
    s3 = project.s3()
    policy = json.loads(s3.get_bucket_policy(Bucket=public)["Policy"])
    assert policy["Statement"][0]["Action"] in (["s3:GetObject"], "s3:GetObject")
    assert policy["Statement"][0]["Resource"] in ([f"arn:aws:s3:::{public}/*"], f"arn:aws:s3:::{public}/*")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=private)


def test_s3_noop_then_reset_removes_junk(project):
    assets, uploads = s3_setup(project)
    project.seed()
    s3 = project.s3()
    seeded = {b: objects(s3, b) for b in (assets, uploads)}
    assert any("unchanged" in m for m in project.seed())
    s3.put_object(Bucket=assets, Key="users/1.png", Body=b"overwritten by the app")
    s3.delete_object(Bucket=assets, Key="users/2.png")
    s3.put_object(Bucket=assets, Key="junk.txt", Body=b"junk")
    s3.put_object(Bucket=uploads, Key="upload.bin", Body=b"junk")
    out = project.seed(reset=True)
    assert any("reset to the seeded state (3 objects)" in m for m in out), out
    assert {b: objects(s3, b) for b in (assets, uploads)} == seeded


def test_changed_object_reloads_only_that_service(project):
    assets, _ = s3_setup(project)
    project.file("seed/r.yaml", "k: v\n")
    services = {"files": project.service("minio", seed={assets: "seed/s3/avatars/"}), "cache": project.service("redis", seed=["seed/r.yaml"])}
    project.manifest(services)
    project.seed()
    project.redis().set("app", "kept")
    project.file("seed/s3/avatars/users/3.png", PNG)
    out = project.seed()
    assert any(m.startswith("seed cache: unchanged") for m in out) and any("seed files: fixtures changed" in m for m in out), out
    assert project.redis().get("app") == b"kept"
    assert "users/3.png" in objects(project.s3(), assets)


def test_bad_bucket_name_is_a_manifest_error(project):
    project.manifest({"files": project.service("minio", seed={"Bad_Bucket": "seed/"})})
    with pytest.raises(ManifestError) as err:
        project.seed()
    assert "services.files.seed.Bad_Bucket: invalid bucket name 'Bad_Bucket'" in err.value.render()


STRIPE = """
    products:
      - id: prod_test_pro
        name: Test Pro
        metadata: {tier: pro}
        prices:
          - {id: price_test_pro_monthly, lookup_key: test_pro_monthly, currency: usd, unit_amount: 499, recurring: {interval: month}}
          - {lookup_key: test_pro_yearly, currency: usd, unit_amount: 4990, recurring: {interval: year}}
    customers:
      - {email: alice-seedtest@example.com, name: Alice, metadata: {user_id: "1"}}
      - {email: bob-seedtest@example.com, name: Bob}
"""


def test_stripe_products_prices_customers_without_duplicates(project):
    project.file("seed/stripe.yaml", STRIPE)
    project.manifest({"pay": project.service("stripe", seed=["seed/stripe.yaml"])})
    out = project.seed()
    assert any("1 products, 2 prices, 2 customers" in m for m in out), out
    assert project.stripe("GET", "/v1/products/prod_test_pro")["metadata"] == {"tier": "pro"}
    assert project.stripe("GET", "/v1/prices/price_test_pro_monthly")["unit_amount"] == 499
    yearly = project.stripe("GET", "/v1/prices", {"lookup_keys": ["test_pro_yearly"]})["data"]
    assert [p["unit_amount"] for p in yearly] == [4990]
    # A changed fixture re-applies: updated in place, nothing duplicated.
    project.file("seed/stripe.yaml", STRIPE.replace("name: Alice", "name: Alice Changed"))
    project.seed()
    alice = project.stripe("GET", "/v1/customers", {"email": "alice-seedtest@example.com"})["data"]
    assert [c["name"] for c in alice] == ["Alice Changed"]
    assert len(project.stripe("GET", "/v1/prices", {"lookup_keys": ["test_pro_yearly"]})["data"]) == 1
    # No probe customers left behind.
    assert not [c for c in project.stripe("GET", "/v1/customers", {"limit": 100})["data"] if "devstack.invalid" in (c.get("email") or "")]


SUBSCRIBED = STRIPE + """    subscriptions:
      - {customer: bob-seedtest@example.com, price: test_pro_yearly, metadata: {seeded: "yes"}}
      - {customer: alice-seedtest@example.com, items: [{price: price_test_pro_monthly, quantity: 2}], card: "4000000000000341"}
"""


def test_stripe_subscriptions_start_paying_and_are_not_duplicated(project):
    project.file("seed/stripe.yaml", SUBSCRIBED)
    project.manifest({"pay": project.service("stripe", seed=["seed/stripe.yaml"])})
    out = project.seed()
    assert any("2 subscriptions" in m for m in out), out
    bob = project.stripe("GET", "/v1/customers", {"email": "bob-seedtest@example.com"})["data"][0]
    subs = project.stripe("GET", "/v1/subscriptions", {"customer": bob["id"], "expand": ["data.latest_invoice"]})["data"]
    assert [(s["status"], s["items"]["data"][0]["price"]["unit_amount"], s["metadata"]) for s in subs] == [("active", 4990, {"seeded": "yes"})]
    assert subs[0]["latest_invoice"]["status"] == "paid" and subs[0]["latest_invoice"]["amount_paid"] == 4990
    assert bob["invoice_settings"]["default_payment_method"] == subs[0]["default_payment_method"]
    # 4000000000000341 attaches but declines: the first invoice fails and the subscription stays incomplete
    alice = project.stripe("GET", "/v1/customers", {"email": "alice-seedtest@example.com"})["data"][0]
    [failing] = project.stripe("GET", "/v1/subscriptions", {"customer": alice["id"], "status": "all"})["data"]
    assert failing["status"] == "incomplete" and failing["items"]["data"][0]["quantity"] == 2
    project.file("seed/stripe.yaml", SUBSCRIBED.replace('seeded: "yes"', 'seeded: "again"'))
    project.seed()
    again = project.stripe("GET", "/v1/subscriptions", {"customer": bob["id"]})["data"]
    assert [s["id"] for s in again] == [subs[0]["id"]] and again[0]["metadata"] == {"seeded": "again"}


def test_stripe_subscription_of_unknown_price_is_one_clear_error(project):
    project.file("seed/stripe.yaml", STRIPE + "    subscriptions:\n      - {customer: bob-seedtest@example.com, price: nope}\n")
    project.manifest({"pay": project.service("stripe", seed=["seed/stripe.yaml"])})
    with pytest.raises(SeedError, match="unknown price `nope`"):
        project.seed()


def test_stripe_fixture_errors_name_the_line(project):
    project.file("seed/stripe.yaml", "products:\n  - name: A\n    prices:\n      - {currency: usd, unit_amount: 4.99}\n")
    project.manifest({"pay": project.service("stripe", seed=["seed/stripe.yaml"])})
    with pytest.raises(SeedError, match=r"seed/stripe.yaml:2: products\[0\].prices\[0\]: unit_amount is an integer"):
        project.seed()


class StatelessStripe(BaseHTTPRequestHandler):
    """Like stripe-mock: every call answers with canned data, nothing is kept."""

    def reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        kind = self.path.split("/")[2].split("?")[0].rstrip("s")
        body = json.dumps({"id": f"{kind}_canned", "object": kind, "email": "jenny.rosen@example.com", "name": "canned",
                           "data": [], "has_more": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = reply

    def log_message(self, *args):
        pass


def test_stateless_stripe_mock_is_said_once_not_failed(project):
    server = ThreadingHTTPServer(("127.0.0.1", 0), StatelessStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        project.file("seed/stripe.yaml", STRIPE)
        project.manifest({"pay": {**project.service("stripe", seed=["seed/stripe.yaml"]), "port": server.server_address[1]}})
        out = project.seed()
        assert [m for m in out if "stripe-mock" in m] == ["seed pay: stripe-mock keeps no state: Stripe fixtures not loaded"], out
    finally:
        server.shutdown()
        server.server_close()
