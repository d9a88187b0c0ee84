#!/bin/sh
# One full stats sample (a VM and its vCPUs): stats fd vs debugfs vs the
# floor (bench/statscost.c). Goals: debugfs/fd >= 50, fd/floor <= 2.
. /opt/kvmscope/add/common.sh
statscost 2
