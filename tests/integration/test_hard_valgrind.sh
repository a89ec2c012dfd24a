#!/bin/bash
# test_hard_valgrind.sh -- stubresd under valgrind memcheck through part of
# the upstream fault matrix (faults.py) over UDP, TCP, DoT and DoH: 0
# errors (uninitialised reads included, which ASan does not see) and no
# block definitely lost at exit. The whole suite runs under ASan+UBSan in
# the build-asan pass of ./quickstart.sh test; this adds memcheck where it
# is affordable. Skipped in a sanitizer build (valgrind cannot run it).
FAULT_PROTOS="udp tcp tls post json"
FAULT_ONLY="refused garbage wrongid wrongquestion loop closemid tc otherport http500 badctype jsonmissing cert:badname"
FAULT_TIMEOUT=3
FAULT_VALGRIND=1
# Every row under memcheck, several waiting out a 3 s timeout per upstream:
# about 100 s on a quiet machine, so the watchdog's 120 s default stopped
# it on a loaded one.
IT_TIMEOUT=${IT_TIMEOUT:-360}
export FAULT_ONLY
. "$(dirname "$0")/faults_lib.sh"
