import psycopg


def test_new_function_not_public(db):
    with db.admin() as c:
        c.execute("SET ROLE pgconsole_owner")
        c.execute("CREATE FUNCTION pgconsole.zz_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        c.execute("RESET ROLE")
    with psycopg.connect(db.dsn_as("pgconsole_app")) as c:
        try:
            c.execute("SELECT pgconsole.zz_probe()")
            raise AssertionError("PUBLIC could execute a new function")
        except psycopg.errors.InsufficientPrivilege:
            pass
