/* report: events as JSON lines, one object per line. */
#include "policy/policy.h"
#include "events/report.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL

/* One table of signal names, the policy language's: what a policy may write is what
 * salved writes. */
const char *report_signal_name(int signo)
{
	return policy_signal_name(signo);
}

/* si_code values as the kernel defines them (uapi asm-generic/siginfo.h); numbers,
 * not glibc's macros, because glibc lags behind the kernel's newer codes. */
struct code_name {
	int code;
	const char *name;
};

static const struct code_name generic_codes[] = {
	{ 0, "SI_USER" },     { 0x80, "SI_KERNEL" }, { -1, "SI_QUEUE" },
	{ -2, "SI_TIMER" },   { -3, "SI_MESGQ" },    { -4, "SI_ASYNCIO" },
	{ -5, "SI_SIGIO" },   { -6, "SI_TKILL" },    { -7, "SI_DETHREAD" },
	{ -60, "SI_ASYNCNL" }, { 0, NULL },
};

static const struct code_name ill_codes[] = {
	{ 1, "ILL_ILLOPC" }, { 2, "ILL_ILLOPN" }, { 3, "ILL_ILLADR" },
	{ 4, "ILL_ILLTRP" }, { 5, "ILL_PRVOPC" }, { 6, "ILL_PRVREG" },
	{ 7, "ILL_COPROC" }, { 8, "ILL_BADSTK" }, { 9, "ILL_BADIADDR" },
	{ 0, NULL },
};

static const struct code_name fpe_codes[] = {
	{ 1, "FPE_INTDIV" }, { 2, "FPE_INTOVF" }, { 3, "FPE_FLTDIV" },
	{ 4, "FPE_FLTOVF" }, { 5, "FPE_FLTUND" }, { 6, "FPE_FLTRES" },
	{ 7, "FPE_FLTINV" }, { 8, "FPE_FLTSUB" }, { 14, "FPE_FLTUNK" },
	{ 15, "FPE_CONDTRAP" }, { 0, NULL },
};

static const struct code_name segv_codes[] = {
	{ 1, "SEGV_MAPERR" },  { 2, "SEGV_ACCERR" },  { 3, "SEGV_BNDERR" },
	{ 4, "SEGV_PKUERR" },  { 5, "SEGV_ACCADI" },  { 6, "SEGV_ADIDERR" },
	{ 7, "SEGV_ADIPERR" }, { 8, "SEGV_MTEAERR" }, { 9, "SEGV_MTESERR" },
	{ 10, "SEGV_CPERR" },  { 0, NULL },
};

static const struct code_name bus_codes[] = {
	{ 1, "BUS_ADRALN" },    { 2, "BUS_ADRERR" }, { 3, "BUS_OBJERR" },
	{ 4, "BUS_MCEERR_AR" }, { 5, "BUS_MCEERR_AO" }, { 0, NULL },
};

static const struct code_name trap_codes[] = {
	{ 1, "TRAP_BRKPT" }, { 2, "TRAP_TRACE" }, { 3, "TRAP_BRANCH" },
	{ 4, "TRAP_HWBKPT" }, { 5, "TRAP_UNK" },  { 6, "TRAP_PERF" },
	{ 0, NULL },
};

static const struct code_name sys_codes[] = {
	{ 1, "SYS_SECCOMP" }, { 2, "SYS_USER_DISPATCH" }, { 0, NULL },
};

static const struct code_name chld_codes[] = {
	{ 1, "CLD_EXITED" }, { 2, "CLD_KILLED" }, { 3, "CLD_DUMPED" },
	{ 4, "CLD_TRAPPED" }, { 5, "CLD_STOPPED" }, { 6, "CLD_CONTINUED" },
	{ 0, NULL },
};

static const char *code_lookup(const struct code_name *table, int code)
{
	for (; table->name; table++)
		if (table->code == code)
			return table->name;
	return NULL;
}

const char *report_code_name(int signo, int code)
{
	const struct code_name *table = NULL;

	/* Codes <= 0 and SI_KERNEL mean the same for every signal: who sent it. */
	if (code <= 0 || code == 0x80)
		return code_lookup(generic_codes, code);
	switch (signo) {
	case SIGILL:
		table = ill_codes;
		break;
	case SIGFPE:
		table = fpe_codes;
		break;
	case SIGSEGV:
		table = segv_codes;
		break;
	case SIGBUS:
		table = bus_codes;
		break;
	case SIGTRAP:
		table = trap_codes;
		break;
	case SIGSYS:
		table = sys_codes;
		break;
	case SIGCHLD:
		table = chld_codes;
		break;
	}
	return table ? code_lookup(table, code) : NULL;
}

int report_time(uint64_t realtime_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(realtime_ns / NS_PER_SEC);
	unsigned int nsec = (unsigned int)(realtime_ns % NS_PER_SEC);
	struct tm tm;
	size_t n;
	int r;

	if (!gmtime_r(&sec, &tm))
		return -EOVERFLOW;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		return -ENOSPC;
	r = snprintf(buf + n, len - n, ".%09uZ", nsec);
	if (r < 0 || (size_t)r >= len - n)
		return -ENOSPC;
	return 0;
}

struct json_object *report_string(const char *s)
{
	const char *p = s ? s : "";
	size_t len = strlen(p), out;
	struct json_object *obj;
	char *buf;

	/* Most strings are clean: hand them over as they are. */
	if (jsonw_utf8_valid(p, len))
		return json_object_new_string_len(p, (int)len);
	/* Each bad byte grows to at most three. */
	if (!(buf = malloc(len * 3 + 1)))
		return NULL;
	out = jsonw_clean_utf8(p, len, buf);
	obj = json_object_new_string_len(buf, (int)out);
	free(buf);
	return obj;
}

int report_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* report_time, the date and time of the second formatted once per second: a storm's
 * lines share it. */
static void time_field(struct jsonw *w, const char *key, uint64_t realtime_ns)
{
	static __thread uint64_t cached_sec = UINT64_MAX;
	static __thread char prefix[48];
	static __thread size_t prefix_len;
	uint64_t sec = realtime_ns / NS_PER_SEC;
	unsigned int nsec = (unsigned int)(realtime_ns % NS_PER_SEC);
	char buf[64];

	if (sec != cached_sec) {
		if (report_time(sec * NS_PER_SEC, prefix, sizeof(prefix)) < 0) {
			jsonw_string(w, key, "");
			return;
		}
		prefix_len = strlen(prefix) - 11; /* without ".000000000Z" */
		cached_sec = sec;
	}
	memcpy(buf, prefix, prefix_len);
	buf[prefix_len] = '.';
	for (int i = 9; i > 0; i--, nsec /= 10)
		buf[prefix_len + i] = (char)('0' + nsec % 10);
	buf[prefix_len + 10] = 'Z';
	jsonw_string_len(w, key, buf, prefix_len + 11);
}

/* A name from a table, or the number when the table has none. */
static void name_field(struct jsonw *w, const char *key, const char *name, int64_t n)
{
	char num[24];

	if (!name) {
		snprintf(num, sizeof(num), "%lld", (long long)n);
		name = num;
	}
	jsonw_string(w, key, name);
}

static void signal_name_field(struct jsonw *w, const char *key, int signo)
{
	const char *name = report_signal_name(signo);

	if (name) {
		jsonw_string(w, key, name);
	} else {
		char buf[24];

		snprintf(buf, sizeof(buf), "SIG%d", signo);
		jsonw_string(w, key, buf);
	}
}

static void signal_fields(struct jsonw *w, const struct event *ev)
{
	signal_name_field(w, "signal", ev->sig.signo);
	name_field(w, "code", report_code_name(ev->sig.signo, ev->sig.code), ev->sig.code);
	if (ev->sig.flags & SALVE_SIG_HAS_ADDR)
		jsonw_hex(w, "addr", ev->sig.addr);
	if (ev->sig.flags & SALVE_SIG_HAS_IP)
		jsonw_hex(w, "ip", ev->sig.ip);
	jsonw_int(w, "sender_pid", ev->sig.sender_pid);
	jsonw_bool(w, "fatal", ev->sig.flags & SALVE_SIG_FATAL);
	/* The receiver has a handler for it (a fatal one never does). */
	if (ev->sig.flags & SALVE_SIG_HANDLED)
		jsonw_bool(w, "handled", true);
}

static void exit_fields(struct jsonw *w, const struct event *ev)
{
	int status = (int)ev->exit.status;

	if (WIFEXITED(status))
		jsonw_int(w, "exit_code", WEXITSTATUS(status));
	else
		jsonw_null(w, "exit_code");
	if (WIFSIGNALED(status))
		signal_name_field(w, "signal", WTERMSIG(status));
	jsonw_bool(w, "core_dumped", WIFSIGNALED(status) && WCOREDUMP(status));
}

static void oom_fields(struct jsonw *w, const struct event *ev)
{
	jsonw_uint(w, "total_vm_kb", ev->oom.total_vm_kb);
	jsonw_uint(w, "anon_rss_kb", ev->oom.anon_rss_kb);
	jsonw_uint(w, "file_rss_kb", ev->oom.file_rss_kb);
	jsonw_uint(w, "shmem_rss_kb", ev->oom.shmem_rss_kb);
	jsonw_uint(w, "pgtables_kb", ev->oom.pgtables_kb);
	jsonw_int(w, "uid", ev->oom.uid);
	jsonw_int(w, "oom_score_adj", ev->oom.oom_score_adj);
}

/* "file" and "line" of a frame or an inlined function, when DWARF gave them. */
static void source_fields(struct jsonw *w, const char *file, uint32_t line)
{
	if (!file || !*file || !line)
		return;
	jsonw_string(w, "file", file);
	jsonw_uint(w, "line", line);
}

static void stack_field(struct jsonw *w, const struct report_frame *frames, size_t n)
{
	jsonw_array_begin(w, "stack");
	for (size_t i = 0; i < n; i++) {
		const struct report_frame *f = &frames[i];

		jsonw_object_begin(w, NULL);
		jsonw_hex(w, "ip", f->ip);
		if (f->module)
			jsonw_string(w, "module", f->module);
		if (f->build_id)
			jsonw_string(w, "build_id", f->build_id);
		if (f->symbol)
			jsonw_string(w, "symbol", f->symbol);
		/* An offset means nothing without the module or symbol it counts from. */
		if (f->module || f->symbol)
			jsonw_uint(w, "offset", f->offset);
		source_fields(w, f->file, f->line);
		if (f->n_inlined) {
			jsonw_array_begin(w, "inlined");
			for (size_t k = 0; k < f->n_inlined; k++) {
				jsonw_object_begin(w, NULL);
				jsonw_string(w, "symbol", f->inlined[k].symbol);
				source_fields(w, f->inlined[k].file, f->inlined[k].line);
				jsonw_object_end(w);
			}
			jsonw_array_end(w);
		}
		if (f->how)
			jsonw_string(w, "how", f->how);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

void report_cause(struct jsonw *w, int signo, int code, const uint64_t *addr, uint64_t realtime_ns)
{
	jsonw_object_begin(w, "cause");
	time_field(w, "time", realtime_ns);
	name_field(w, "code", report_code_name(signo, code), code);
	if (addr)
		jsonw_hex(w, "addr", *addr);
	jsonw_object_end(w);
}

void report_event_begin(struct jsonw *w, const struct event *ev, const char *probe,
			uint64_t realtime_ns, const struct report_frame *frames, size_t n_frames)
{
	jsonw_object_begin(w, NULL);
	time_field(w, "time", realtime_ns);
	jsonw_string(w, "kind", events_kind_name(ev->kind));
	if (probe)
		jsonw_string(w, "probe", probe);
	jsonw_int(w, "pid", ev->pid);
	jsonw_int(w, "tid", ev->tid);
	jsonw_string(w, "comm", ev->comm);
	if (ev->exe.path[0])
		jsonw_string(w, "exe", ev->exe.path);
	jsonw_uint(w, "cgroup_id", ev->cgroup_id);
	if (ev->suppressed)
		jsonw_int(w, "suppressed", ev->suppressed);

	switch (ev->kind) {
	case SALVE_EV_SIGNAL:
		signal_fields(w, ev);
		break;
	case SALVE_EV_EXIT:
		exit_fields(w, ev);
		break;
	case SALVE_EV_OOM:
		oom_fields(w, ev);
		break;
	case SALVE_EV_EXEC:
		if (ev->exec.old_tid && ev->exec.old_tid != ev->pid)
			jsonw_int(w, "old_tid", ev->exec.old_tid);
		break;
	case SALVE_EV_RETURN:
		jsonw_int(w, "ret", ev->call.ret);
		break;
	case SALVE_EV_LATENCY:
	case SALVE_EV_STALL:
		jsonw_uint(w, "duration_ns", ev->call.duration_ns);
		break;
	case SALVE_EV_ABORT:
		if (!ev->text.text[0])
			break; /* abort() itself: no assertion */
		jsonw_string(w, "assertion", ev->text.text);
		jsonw_string(w, "file", ev->text.file);
		jsonw_int(w, "line", ev->text.line);
		jsonw_string(w, "function", ev->text.func);
		break;
	case SALVE_EV_EXCEPTION:
		jsonw_string(w, "type", ev->text.text);
		break;
	case SALVE_EV_SYSCALL:
		name_field(w, "syscall", policy_syscall_name(ev->call.syscall), ev->call.syscall);
		name_field(w, "errno", policy_errno_name(-ev->call.ret), -ev->call.ret);
		break;
	case SALVE_EV_KIND_MAX:
		break;
	}
	if (frames && n_frames)
		stack_field(w, frames, n_frames);
}

const char *report_string_of(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : NULL;
}

void report_facts_of(struct json_object *line, struct line_facts *out)
{
	struct json_object *v;

	*out = (struct line_facts){ .kind = report_string_of(line, "kind"), .comm = report_string_of(line, "comm"),
				    .probe = report_string_of(line, "probe"), .rule = report_string_of(line, "rule") };
	if (json_object_object_get_ex(line, "pid", &v) && json_object_is_type(v, json_type_int)) {
		out->has_pid = true;
		out->pid = json_object_get_int64(v);
	}
}

const char *report_text(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
