"""mariadb and mysql as real local processes (Debian's mariadb-server), used through PyMySQL.

Up, a round trip as the app's user, data kept across down/up, seeding from SQL
and CSV with a snapshot that `seed --reset` restores, and nothing left after
`down --volumes` (the native_stack fixture checks that).
"""

from __future__ import annotations

import shutil

import pymysql
import pytest

pytestmark = pytest.mark.skipif(not shutil.which("mariadbd") and not shutil.which("mariadbd", path="/usr/sbin"),
                                reason="needs mariadb-server (apt-get install mariadb-server)")

SCHEMA = """\
-- a mysqldump-like fixture: executable comments, a DELIMITER block
/*!40101 SET NAMES utf8mb4 */;
CREATE TABLE authors (id int AUTO_INCREMENT PRIMARY KEY, name varchar(80) NOT NULL);
CREATE TABLE posts (
  id int AUTO_INCREMENT PRIMARY KEY,
  author_id int NOT NULL,
  title varchar(200) NOT NULL,
  words int NULL,
  CONSTRAINT posts_author FOREIGN KEY (author_id) REFERENCES authors (id)
);
CREATE TABLE audit (note varchar(200));
CREATE VIEW post_titles AS SELECT p.title, a.name FROM posts p JOIN authors a ON a.id = p.author_id;
DELIMITER ;;
CREATE TRIGGER posts_audit AFTER INSERT ON posts FOR EACH ROW BEGIN
  INSERT INTO audit VALUES (CONCAT('post ', NEW.title, ';'));
END ;;
DELIMITER ;
INSERT INTO authors (name) VALUES ('Ada'), ('Grace');
"""
POSTS = "id,author_id,title,words\n1,1,\"Notes, on the engine\",1200\n2,2,Compilers,\n"


def connect(stack, **kw):
    o = stack.outputs()["db"]
    return pymysql.connect(host=o["host"], port=int(o["port"]), user=o["user"], password=o["password"],
                           database=o["database"], autocommit=True, **kw)


def rows(stack, sql):
    with connect(stack) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_mariadb_lifecycle_seed_and_reset(native_stack):
    stack = native_stack("project: shop\nservices:\n  db:\n    kind: mariadb\n    seed: [seed/schema.sql, seed/posts.csv]\n",
                         name="shop")
    (stack.root / "seed").mkdir()
    (stack.root / "seed" / "schema.sql").write_text(SCHEMA)
    (stack.root / "seed" / "posts.csv").write_text(POSTS)
    up = stack.cli("up")
    assert "seed db:" in up.stderr, up.stderr
    env = (stack.root / ".env").read_text()
    assert "DATABASE_URL=mysql://app:" in env and "DB_DATABASE=shop" in env and "DB_CONNECTION=mysql" in env

    assert rows(stack, "SELECT title, name FROM post_titles ORDER BY title") == (("Compilers", "Grace"), ("Notes, on the engine", "Ada"))
    assert rows(stack, "SELECT words FROM posts WHERE id = 2") == ((None,),)  # an empty CSV field is NULL
    assert rows(stack, "SELECT note FROM audit ORDER BY note") == (("post Compilers;",), ("post Notes, on the engine;",))

    # The app changes things; the trigger and the foreign key came along with the swap.
    with connect(stack) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO posts (author_id, title) VALUES (1, 'Draft')")
        with pytest.raises(pymysql.err.IntegrityError):
            cur.execute("INSERT INTO posts (author_id, title) VALUES (99, 'nobody')")
    assert rows(stack, "SELECT count(*) FROM audit") == ((3,),)

    # Data survives down/up.
    stack.cli("down")
    stack.up()
    assert rows(stack, "SELECT count(*) FROM posts") == ((3,),)

    reset = stack.cli("seed", "--reset")
    assert "reset to the seeded state" in reset.stderr, reset.stderr
    assert rows(stack, "SELECT id, title FROM posts ORDER BY id") == ((1, "Notes, on the engine"), (2, "Compilers"))
    assert rows(stack, "SELECT count(*) FROM audit") == ((2,),)
    with connect(stack) as conn, conn.cursor() as cur:  # AUTO_INCREMENT came back with the snapshot
        cur.execute("INSERT INTO posts (author_id, title) VALUES (1, 'Again')")
        assert cur.lastrowid == 3
    leftovers = rows(stack, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'shop%' ORDER BY 1")
    assert leftovers == (("shop",),), leftovers  # the snapshot is not visible to the app's user


def test_mariadb_credentials_are_enforced(native_stack):
    stack = native_stack("project: creds\nservices:\n  db: {kind: mariadb}\n", name="creds")
    stack.up()
    o = stack.outputs()["db"]
    with pytest.raises(pymysql.err.OperationalError) as denied:
        pymysql.connect(host=o["host"], port=int(o["port"]), user=o["user"], password="wrong")
    assert denied.value.args[0] == 1045  # access denied
    with pymysql.connect(host=o["host"], port=int(o["port"]), user="root", password=o["root_password"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT user FROM mysql.user WHERE user = ''")
        assert cur.fetchall() == ()  # no anonymous accounts
        cur.execute("SELECT @@bind_address, @@character_set_server")
        assert cur.fetchone() == ("127.0.0.1", "utf8mb4")


def test_mysql_kind_runs_mariadb_natively(native_stack):
    stack = native_stack("project: legacy\nservices:\n  db: {kind: mysql, database: legacy_app}\n", name="legacy")
    result = stack.up()
    assert "standing in for MySQL" in result.stderr
    assert rows(stack, "SELECT DATABASE()") == (("legacy_app",),)


def test_a_bad_fixture_names_its_line_and_leaves_the_database(native_stack):
    stack = native_stack("project: badseed\nservices:\n  db:\n    kind: mariadb\n    seed: [seed/a.sql]\n", name="badseed")
    (stack.root / "seed").mkdir()
    (stack.root / "seed" / "a.sql").write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n")
    stack.cli("up")
    (stack.root / "seed" / "a.sql").write_text("CREATE TABLE t (id int);\n\nINSERT INTO nope VALUES (1);\n")
    result = stack.cli("seed", check=False)
    assert result.returncode == 1
    assert "seed/a.sql:3:" in result.stderr and "nope" in result.stderr, result.stderr
    assert rows(stack, "SELECT id FROM t") == ((1,),)  # the app's database as it was
