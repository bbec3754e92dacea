#!/usr/bin/env bash
# Starts, on 127.0.0.1 only, each service the tests use that the machine does not already run.
# Idempotent: a service already listening is left alone. The machine itself runs PostgreSQL
# (5432), MariaDB (3306) and Redis (6379); nothing else is needed yet.
set -euo pipefail
exit 0
