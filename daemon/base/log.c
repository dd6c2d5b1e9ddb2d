#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "base/log.h"

/* The one piece of process-wide state: where messages go. Set once in main. */
static struct {
	enum log_sink sink;
	int level;
	bool verbose;
} log_cfg = { LOG_SINK_STDERR, LOG_INFO, false };

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void vlog(int level, const char *fmt, va_list ap)
{
	if (level > log_cfg.level)
		return;
	if (log_cfg.sink == LOG_SINK_JOURNAL) {
		sd_journal_printv(level, fmt, ap);
		return;
	}
	fprintf(stderr, "salved: %s: ", level_name(level));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void salve_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level == LIBBPF_DEBUG && !log_cfg.verbose)
		return 0;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = 0;
	salve_log(level == LIBBPF_WARN ? LOG_WARNING : LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

void salve_log_setup(enum log_sink sink, int level, bool verbose)
{
	log_cfg.sink = sink;
	log_cfg.level = verbose ? LOG_DEBUG : level;
	log_cfg.verbose = verbose;
	libbpf_set_print(libbpf_print);
}
