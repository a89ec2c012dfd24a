/* libstubres: common definitions shared by every public header. */
#ifndef STUBRES_COMMON_H
#define STUBRES_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported symbols carry SR_API; the library is built with
 * -fvisibility=hidden so nothing else leaks out of it. */
#if defined(SR_BUILDING_LIB) && defined(__GNUC__)
#define SR_API __attribute__((visibility("default")))
#else
#define SR_API
#endif

#ifdef __cplusplus
}
#endif
#endif
