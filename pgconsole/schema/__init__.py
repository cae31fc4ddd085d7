"""Schema management: migrations, setup (roles, extensions) and the doctor."""
