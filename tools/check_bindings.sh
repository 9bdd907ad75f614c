#!/usr/bin/env bash
# Fails if the committed protobuf-c bindings differ from freshly generated ones.
exec "$(dirname "$0")/gen_bindings.sh" --check
