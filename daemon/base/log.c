#define SD_JOURNAL_SUPPRESS_LOCATION /* the caller's location is sent, not this file's */
#include <bpf/libbpf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "base/log.h"

#define LOG_FIELDS_MAX 13
#define MESSAGE_KEY "MESSAGE="

/* The one piece of process-wide state: where messages go. Set once in main. */
static struct {
	enum log_sink sink;
	int level;
	bool verbose;
	char last_error[512];
} log_cfg = { LOG_SINK_STDERR, LOG_INFO, false, "" };

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

bool salve_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 || e[end] ||
	    fstat(STDERR_FILENO, &st))
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

const char *salve_log_last_error(void)
{
	return log_cfg.last_error;
}

/* One "KEY=value" field into buf, as the next iovec; nothing for an empty value. */
static void add_field(struct iovec *iov, size_t *n, char *buf, size_t len, const char *key,
		      const char *value)
{
	int w;

	if (!value || !*value)
		return;
	w = snprintf(buf, len, "%s=%s", key, value);
	if (w < 0)
		return;
	iov[(*n)++] = (struct iovec){ buf, (size_t)w < len ? (size_t)w : len - 1 };
}

static void add_number(struct iovec *iov, size_t *n, char *buf, size_t len, const char *key,
		       uint64_t value)
{
	char num[24];

	if (!value)
		return;
	snprintf(num, sizeof(num), "%" PRIu64, value);
	add_field(iov, n, buf, len, key, num);
}

/* The entry: message ("MESSAGE=..."), priority, identifier, location, then fields.
 * 0 or -errno (no journal to write to). */
static int journal_send(const char *file, int line, const char *func, int level,
			const struct log_fields *f, const char *message, size_t message_len)
{
	char prio[16], code_file[512], code_line[32], code_func[128];
	char rule[256], policy[256], pid[32], action[64], incident[40], repair[40];
	struct iovec iov[LOG_FIELDS_MAX];
	size_t n = 0;
	char lvl[4];

	iov[n++] = (struct iovec){ (void *)message, message_len };
	snprintf(lvl, sizeof(lvl), "%d", level & LOG_PRIMASK);
	add_field(iov, &n, prio, sizeof(prio), "PRIORITY", lvl);
	iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=salved", strlen("SYSLOG_IDENTIFIER=salved") };
	add_field(iov, &n, code_file, sizeof(code_file), "CODE_FILE", file);
	add_number(iov, &n, code_line, sizeof(code_line), "CODE_LINE", (uint64_t)line);
	add_field(iov, &n, code_func, sizeof(code_func), "CODE_FUNC", func);
	if (f) {
		add_field(iov, &n, rule, sizeof(rule), "RULE", f->rule);
		add_field(iov, &n, policy, sizeof(policy), "POLICY", f->policy);
		add_number(iov, &n, pid, sizeof(pid), "OBJECT_PID", f->pid);
		add_field(iov, &n, action, sizeof(action), "ACTION", f->action);
		add_number(iov, &n, incident, sizeof(incident), "INCIDENT", f->incident);
		add_number(iov, &n, repair, sizeof(repair), "REPAIR", f->repair);
	}
	return sd_journal_sendv(iov, (int)n);
}

void salve_log_at(const char *file, int line, const char *func, int level,
		  const struct log_fields *fields, const char *fmt, ...)
{
	const size_t key = strlen(MESSAGE_KEY);
	char stack[1024], *buf = stack;
	va_list ap;
	int n;

	if (level > log_cfg.level)
		return;
	/* "MESSAGE=" and the text, in one buffer: the journal's field, or after the key, the
	 * line for stderr. */
	memcpy(stack, MESSAGE_KEY, key);
	va_start(ap, fmt);
	n = vsnprintf(stack + key, sizeof(stack) - key, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(stack) - key) {
		if ((buf = malloc(key + (size_t)n + 1))) {
			memcpy(buf, MESSAGE_KEY, key);
			va_start(ap, fmt);
			vsnprintf(buf + key, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			buf = stack; /* cut short rather than lost */
			n = (int)(sizeof(stack) - key - 1);
		}
	}
	if (level <= LOG_ERR)
		snprintf(log_cfg.last_error, sizeof(log_cfg.last_error), "%s", buf + key);
	/* Without a journal to take it (journald gone), the line still goes to stderr. */
	if (log_cfg.sink != LOG_SINK_JOURNAL ||
	    journal_send(file, line, func, level, fields, buf, key + (size_t)n))
		fprintf(stderr, "salved: %s: %s\n", level_name(level), buf + key);
	if (buf != stack)
		free(buf);
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
