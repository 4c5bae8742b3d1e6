"""Django's SQLite backend with one ordered writer per process (embedded mode); see base.py."""
