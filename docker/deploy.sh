#!/usr/bin/env bash
# Production deploy: docker/deploy.sh USER@HOST PATH
# Copies the project and its .env to the server over SSH, then runs `docker compose up -d` there.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 USER@HOST PATH" >&2
    exit 2
fi
target=$1
path=$2
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$root/.env" ]; then
    echo "error: $root/.env is missing (copy .env.example and set the production secrets)" >&2
    exit 1
fi

ssh "$target" "mkdir -p '$path'"
rsync -az --delete \
    --exclude .git --exclude .venv --exclude var --exclude '__pycache__' --exclude apps/_dashboard \
    --exclude apps/.service \
    "$root/" "$target:$path/"
ssh "$target" "cd '$path' && docker compose -f docker/compose.yml up -d --build --remove-orphans"
echo "deployed to $target:$path"
