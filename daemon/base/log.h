/* log: one logging call for salved, to stderr or the journal.
 *
 * On stderr a message is one line, "salved: warning: ...". In the journal (salved run by
 * systemd, its stderr the journal's stream) it is an entry with PRIORITY=, MESSAGE=,
 * SYSLOG_IDENTIFIER=salved, where in salved it was logged (CODE_FILE=, CODE_LINE=,
 * CODE_FUNC=), and the fields of what it is about (struct log_fields), so that
 * `journalctl -u salved RULE=oom` finds a rule's messages. */
#ifndef SALVE_LOG_H
#define SALVE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_JOURNAL,
};

/* What a message is about: each set field is a journal field of its entry (a NULL or
 * empty string, or a 0, is left out). The text of the message says the same for stderr. */
struct log_fields {
	const char *rule;   /* RULE= */
	const char *policy; /* POLICY= */
	uint32_t pid;       /* OBJECT_PID=: the process (not salved); journald adds its
			     * OBJECT_EXE=, OBJECT_COMM=, OBJECT_SYSTEMD_UNIT=... */
	const char *action; /* ACTION=: an action's "do" (log, exec, override...) */
	uint64_t incident;  /* INCIDENT=: the incident's id, as in its event line */
	uint64_t repair;    /* REPAIR=: a repair's, rescue's or breaker's id (salvectl
			     * rollback ID) */
};

/* Messages above level are dropped; libbpf's output is routed here, its debug lines
 * only when verbose. */
void salve_log_setup(enum log_sink sink, int level, bool verbose);

/* Whether stderr is the journal's stream: JOURNAL_STREAM (set by systemd) names its
 * device and inode. Not only set: a `salved 2>file` under a unit's shell writes a file. */
bool salve_log_stderr_is_journal(void);

/* The last error (LOG_ERR or worse) logged, "" when none: what salved tells systemd
 * when it fails to start. */
const char *salve_log_last_error(void);

__attribute__((format(printf, 6, 7))) void salve_log_at(const char *file, int line,
							const char *func, int level,
							const struct log_fields *fields,
							const char *fmt, ...);

/* salve_log(LOG_WARNING, "...", ...): a message about salved itself.
 * salve_log_ctx(LOG_WARNING, &(struct log_fields){ .rule = r, .pid = p }, "...", ...):
 * about a rule, process, action, incident or repair. */
#define salve_log(level, ...) salve_log_at(__FILE__, __LINE__, __func__, level, NULL, __VA_ARGS__)
#define salve_log_ctx(level, fields, ...)                                                    \
	salve_log_at(__FILE__, __LINE__, __func__, level, fields, __VA_ARGS__)

#endif
