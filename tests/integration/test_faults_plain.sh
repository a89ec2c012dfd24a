#!/bin/bash
# test_faults_plain.sh -- the upstream fault matrix (faults.py) over udp tcp:
# every fault a server can commit, with what the client sees, what stats
# count, and a cache that never keeps a forged answer.
FAULT_PROTOS="udp tcp"
. "$(dirname "$0")/faults_lib.sh"
