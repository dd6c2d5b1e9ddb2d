#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "base/log.h"
#include "base/notify.h"

struct notify {
	struct loop *loop;
	bool enabled;           /* NOTIFY_SOCKET is set */
	uint64_t watchdog_usec; /* 0: no watchdog for salved */
	struct loop_timer watchdog;
	char status[512];       /* the last STATUS= */
	bool ready;             /* READY=1 sent: a status goes at once, not with READY=1 */
	bool warned;            /* a failed send was logged */
};

static void notify_send(struct notify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* n may be NULL: salved failed before it had one. */
static void notify_send(struct notify *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int err;

	if (n ? !n->enabled : !getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((err = sd_notify(0, msg)) < 0 && !(n && n->warned)) {
		if (n)
			n->warned = true;
		salve_log(LOG_WARNING, "NOTIFY_SOCKET %s: cannot tell the service manager: %s",
			  getenv("NOTIFY_SOCKET"), strerror(-err));
	}
}

static int on_watchdog(struct loop_timer *t, void *ctx)
{
	struct notify *n = ctx;

	notify_send(n, "WATCHDOG=1");
	return loop_timer_arm(n->loop, t, n->watchdog_usec * 1000 / 2);
}

int notify_new(struct loop *loop, struct notify **out)
{
	struct notify *n = calloc(1, sizeof(*n));
	uint64_t usec = 0;
	int err;

	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	n->watchdog = (struct loop_timer){ .handler = on_watchdog, .ctx = n };
	if (sd_watchdog_enabled(1, &usec) > 0 && usec) {
		n->watchdog_usec = usec;
		if ((err = loop_timer_arm(loop, &n->watchdog, usec * 1000 / 2))) {
			free(n);
			return err;
		}
	}
	*out = n;
	return 0;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	loop_timer_disarm(n->loop, &n->watchdog);
	free(n);
}

void notify_ready(struct notify *n)
{
	if (n)
		n->ready = true;
	if (n && n->status[0])
		notify_send(n, "READY=1\nSTATUS=%s", n->status);
	else
		notify_send(n, "READY=1");
}

void notify_status(struct notify *n, const char *fmt, ...)
{
	char status[sizeof(n->status)];
	va_list ap;

	if (!n || !n->enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	if (!strcmp(status, n->status))
		return;
	memcpy(n->status, status, sizeof(status));
	if (n->ready)
		notify_send(n, "STATUS=%s", status);
}

void notify_reloading(struct notify *n)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send(n, "RELOADING=1\nMONOTONIC_USEC=%llu",
	     (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void notify_stopping(struct notify *n)
{
	notify_send(n, "STOPPING=1");
}

void notify_failed(struct notify *n, int err, const char *why)
{
	notify_send(n, "STATUS=failed: %s\nERRNO=%d", why && *why ? why : strerror(-err), -err);
}

uint64_t notify_watchdog_usec(const struct notify *n)
{
	return n ? n->watchdog_usec : 0;
}
