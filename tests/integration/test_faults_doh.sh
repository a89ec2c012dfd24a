#!/bin/bash
# test_faults_doh.sh -- the upstream fault matrix (faults.py) over get json:
# every fault a server can commit, with what the client sees, what stats
# count, and a cache that never keeps a forged answer.
FAULT_PROTOS="get json"
. "$(dirname "$0")/faults_lib.sh"
