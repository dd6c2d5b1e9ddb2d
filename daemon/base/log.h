/* log: one logging call for salved, to stderr or the journal. */
#ifndef SALVE_LOG_H
#define SALVE_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_JOURNAL,
};

/* Messages above level are dropped; libbpf's output is routed here, its debug lines
 * only when verbose. */
void salve_log_setup(enum log_sink sink, int level, bool verbose);

__attribute__((format(printf, 2, 3))) void salve_log(int level, const char *fmt, ...);

#endif
