#!/bin/bash
# `arrears up`'s children (dev server, sandbox, worker, API) on free ports, for bench/api_latency.py
# on a machine where the fixed ports (7233, 8000, 8010, 8233, 9464) are taken.
# usage: bench/free_stack.sh DIR   (DIR: an empty folder; logs in DIR/logs)
#   then: source DIR/env && .venv/bin/python bench/api_latency.py --url $API_URL --temporal $TEMPORAL
#   stop: kill -- -$(cat DIR/pgid)
set -e
DIR=$(realpath -m "$1"); mkdir -p "$DIR/logs"
cd "$(dirname "$0")/.."
free() { .venv/bin/python -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }
TP=$(free); UP=$(free); SP=$(free); AP=$(free)
export TEMPORAL_ADDRESS=127.0.0.1:$TP ARREARS_SANDBOX_URL=http://127.0.0.1:$SP ARREARS_PUBLIC_URL=http://127.0.0.1:$AP
export ARREARS_DATA_DIR=$DIR/data DATABASE_URL=sqlite:///$DIR/data/arrears.db ARREARS_LOG_FORMAT=text ARREARS_TASK_QUEUE=bench-$$
unset ARREARS_WORKER_METRICS_PORT
ARGV=$(.venv/bin/python -c "
from pathlib import Path; from core.settings import Settings; from arrears.stack import dev_server_argv, venv_binary
import arrears.stack as s; s.UI_PORT=$UP
print(' '.join(dev_server_argv(Settings(), venv_binary('temporal'), Path('$DIR/data'), $TP)))")
mkdir -p $DIR/data
setsid bash -c "
$ARGV > $DIR/logs/temporal.log 2>&1 &
sleep 6
.venv/bin/python -m arrears.cli sandbox --port $SP > $DIR/logs/sandbox.log 2>&1 &
.venv/bin/python -m arrears.cli worker > $DIR/logs/worker.log 2>&1 &
.venv/bin/python -m arrears.cli api --port $AP > $DIR/logs/api.log 2>&1 &
wait" &
echo $! > $DIR/pgid
echo "API_URL=http://127.0.0.1:$AP TEMPORAL=127.0.0.1:$TP" > $DIR/env
for i in $(seq 60); do curl -sf http://127.0.0.1:$AP/health/ready >/dev/null 2>&1 && break; sleep 1; done
curl -s http://127.0.0.1:$AP/health/ready; echo
