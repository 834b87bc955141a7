"""Storage: SQLAlchemy 2 models, repositories (plain async functions taking the session
first) and Alembic migrations. The only package that knows table layouts."""
