/* The outside world of the fuzz targets that read config files and run
 * control commands (fuzz_config, fuzz_control), made small and the same
 * on every machine. Linked with
 *   -Wl,--wrap=fopen -Wl,--wrap=access -Wl,--wrap=getpwnam
 *   -Wl,--wrap=getgrnam -Wl,--wrap=openlog -Wl,--wrap=syslog
 * so that the daemon's own calls go through sandbox.c:
 *
 * - "/fuzz/NAME" is NAME in a private directory of this process (under
 *   /dev/shm, else /tmp), removed at exit: inputs can name files there
 *   (ca_file = /fuzz/ca.pem) and reproduce anywhere;
 * - /etc/resolv.conf is /fuzz/resolv.conf, which names 192.0.2.53,
 *   127.0.0.1 and ::1 (so stubresd's never-forward-to-itself check runs);
 * - every other path does not exist (ENOENT): a config naming /dev/zero
 *   or a FIFO would block the reader, and one naming /x must not create
 *   it (query_log);
 * - users and groups are root, daemon and nobody / nogroup (NSS could
 *   otherwise ask systemd-userdb over a socket);
 * - syslog is silent. */
#ifndef STUBRES_FUZZ_SANDBOX_H
#define STUBRES_FUZZ_SANDBOX_H

#include <stddef.h>

/* The private directory (created on first use). */
const char *sandbox_dir(void);
/* The real path of /fuzz/name into buf. */
const char *sandbox_real(const char *name, char *buf, size_t cap);
/* Write /fuzz/name with len bytes of data (replacing it). */
void sandbox_write(const char *name, const void *data, size_t len);

#endif
