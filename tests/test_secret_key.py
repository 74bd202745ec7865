"""`python manage.py <anything>` works on the embedded default without SECRET_KEY set: the key
is made once in var/secret_key (mode 0600) and read from there after. Production (DATABASE_URL
set, DEBUG off) still refuses to start without one."""

import stat

from tests.embedded_processes import embedded_env, manage_py

PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_manage_py_runs_without_a_secret_key_and_keeps_the_one_it_made(tmp_path):
    env = embedded_env(tmp_path)

    first = manage_py(env, "shell", "--no-imports", "-c", PRINT_KEY).stdout.strip()
    again = manage_py(env, "shell", "--no-imports", "-c", PRINT_KEY).stdout.strip()

    key_file = tmp_path / "secret_key"
    assert first == again == key_file.read_text().strip()
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = embedded_env(tmp_path, DATABASE_URL="postgres://nexgent@127.0.0.1:9/nexgent")

    refused = manage_py(env, "check", check=False)

    assert refused.returncode != 0
    assert "SECRET_KEY must be set" in refused.stderr
    assert not (tmp_path / "secret_key").exists()
