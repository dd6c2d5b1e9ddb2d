/* notify: what salved tells the service manager that started it (sd_notify, for a
 * Type=notify unit): READY=1 once it watches, STATUS= saying what it does, RELOADING=1
 * and READY=1 around a reload, STOPPING=1, WATCHDOG=1 at half the watchdog's period,
 * ERRNO= and STATUS= when it fails. Without NOTIFY_SOCKET nothing is sent. */
#ifndef SALVE_NOTIFY_H
#define SALVE_NOTIFY_H

#include <stdint.h>

#include "base/loop.h"

struct notify;

/* Reads (and takes from the environment, so that no child inherits them) WATCHDOG_USEC
 * and WATCHDOG_PID: when the watchdog is salved's, a timer on loop pings it every half
 * period, whatever else the loop has to do. 0 or -errno. */
int notify_new(struct loop *loop, struct notify **out);
void notify_free(struct notify *n);

/* READY=1, with the status. */
void notify_ready(struct notify *n);
/* STATUS=, sent only when it differs from the last one. */
__attribute__((format(printf, 2, 3))) void notify_status(struct notify *n, const char *fmt, ...);
/* RELOADING=1 with MONOTONIC_USEC= (as systemd 253's Type=notify-reload wants); then
 * notify_ready when the reload is over, refused or not. */
void notify_reloading(struct notify *n);
void notify_stopping(struct notify *n);
/* Failed (err a negative errno): STATUS= says why, ERRNO= the error. */
void notify_failed(struct notify *n, int err, const char *why);

/* The watchdog's period, 0 when there is none for salved. */
uint64_t notify_watchdog_usec(const struct notify *n);

#endif
