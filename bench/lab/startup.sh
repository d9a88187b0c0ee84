#!/bin/sh
# Startup: exec of `kvmscope migrate --json` to its "attached" record, with
# the number of programs attached (bench/startup.c).
. /opt/kvmscope/add/common.sh
startup 7 kvmscope migrate --json
