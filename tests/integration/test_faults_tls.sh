#!/bin/bash
# test_faults_tls.sh -- the upstream fault matrix (faults.py) over tls post:
# every fault a server can commit, with what the client sees, what stats
# count, and a cache that never keeps a forged answer.
FAULT_PROTOS="tls post"
. "$(dirname "$0")/faults_lib.sh"
