/* The outside world of the fuzz targets that read config files and run
 * control commands (fuzz_config, fuzz_control), made small and the same
 * on every machine. Linked with
 *   -Wl,--wrap=fopen -Wl,--wrap=access -Wl,--wrap=getpwnam
 *   -Wl,--wrap=getgrnam -Wl,--wrap=openlog -Wl,--wrap=syslog
 * (and -Wl,--wrap=log_query_open) so that the daemon's own calls go
 * through sandbox.c:
 *
 * - "/fuzz/NAME" is NAME in a private directory of this process (under
 *   /dev/shm, else /tmp), removed at exit: inputs can name files there
 *   (ca_file = /fuzz/ca.pem) and reproduce anywhere;
 * - /etc/resolv.conf is /fuzz/resolv.conf, which names 192.0.2.53,
 *   127.0.0.1 and ::1 (so stubresd's never-forward-to-itself check runs);
 * - every other path does not exist (ENOENT) for reading: a config
 *   naming /dev/zero or a FIFO would block the reader; and a query log
 *   can be opened only in /fuzz (query_log = /x must not create /x);
 * - users and groups are root, daemon and nobody / nogroup (NSS could
 *   otherwise ask systemd-userdb over a socket);
 * - syslog is silent.
 *
 * Reads only between sandbox_enter() and sandbox_leave() (a target's run
 * on one input): the corpus replayer reads its files with the same
 * fopen(). fopen() for writing is never touched: libFuzzer, linked into
 * the same binary, writes new inputs and, from inside a crashing run,
 * the reproducer with it. */
#ifndef STUBRES_FUZZ_SANDBOX_H
#define STUBRES_FUZZ_SANDBOX_H

#include <stddef.h>

/* Start and end the rules above for the calls in between. */
void sandbox_enter(void);
void sandbox_leave(void);
/* The private directory (created on first use). */
const char *sandbox_dir(void);
/* The real path of /fuzz/name into buf. */
const char *sandbox_real(const char *name, char *buf, size_t cap);
/* Write /fuzz/name with len bytes of data (replacing it). */
void sandbox_write(const char *name, const void *data, size_t len);

#endif
