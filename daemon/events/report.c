/* report: events as JSON lines, one object per line, flushed per line. */
#include "policy/policy.h"
#include "events/report.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
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

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7), or 0 when it is
 * ill-formed; then *bad is the length of its maximal subpart, replaced by one U+FFFD. */
static size_t utf8_seq(const unsigned char *s, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* a stray continuation byte, C0, C1 or F5..FF */
	}
	for (i = 1; i < need; i++) {
		/* A NUL ends the string and fails this test, so we never read past it. */
		if (s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

struct json_object *report_string(const char *s)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), pos = 0, out = 0, n, bad;
	struct json_object *obj;
	char *buf;

	/* Most strings are clean: hand them over as they are. */
	for (pos = 0; pos < len; pos += n)
		if (!(n = utf8_seq(p + pos, &bad)))
			break;
	if (pos == len)
		return json_object_new_string_len((const char *)p, (int)len);

	/* Each bad byte grows to at most three. */
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	memcpy(buf, p, pos);
	out = pos;
	while (pos < len) {
		n = utf8_seq(p + pos, &bad);
		if (n) {
			memcpy(buf + out, p + pos, n);
			out += n;
			pos += n;
		} else {
			memcpy(buf + out, fffd, 3);
			out += 3;
			pos += bad;
		}
	}
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

static int add_hex(struct json_object *obj, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return report_add(obj, key, json_object_new_string(buf));
}

static int add_signal_name(struct json_object *obj, const char *key, int signo)
{
	const char *name = report_signal_name(signo);
	char buf[24];

	if (!name) {
		snprintf(buf, sizeof(buf), "SIG%d", signo);
		name = buf;
	}
	return report_add(obj, key, json_object_new_string(name));
}

static int add_signal(struct json_object *obj, const struct event *ev)
{
	const char *code = report_code_name(ev->sig.signo, ev->sig.code);
	char buf[16];
	int err = 0;

	if (!code) {
		snprintf(buf, sizeof(buf), "%d", ev->sig.code);
		code = buf;
	}
	err = err ?: add_signal_name(obj, "signal", ev->sig.signo);
	err = err ?: report_add(obj, "code", json_object_new_string(code));
	if (ev->sig.flags & SALVE_SIG_HAS_ADDR)
		err = err ?: add_hex(obj, "addr", ev->sig.addr);
	if (ev->sig.flags & SALVE_SIG_HAS_IP)
		err = err ?: add_hex(obj, "ip", ev->sig.ip);
	err = err ?: report_add(obj, "sender_pid", json_object_new_int64(ev->sig.sender_pid));
	err = err ?: report_add(obj, "fatal", json_object_new_boolean(!!(ev->sig.flags & SALVE_SIG_FATAL)));
	/* The receiver has a handler for it (a fatal one never does). */
	if (ev->sig.flags & SALVE_SIG_HANDLED)
		err = err ?: report_add(obj, "handled", json_object_new_boolean(1));
	return err;
}

static int add_exit(struct json_object *obj, const struct event *ev)
{
	int status = (int)ev->exit.status;
	int err = 0;

	if (WIFEXITED(status)) {
		err = report_add(obj, "exit_code", json_object_new_int(WEXITSTATUS(status)));
	} else {
		/* json-c stores a JSON null as a NULL value. */
		if (json_object_object_add(obj, "exit_code", NULL) < 0)
			return -ENOMEM;
	}
	if (WIFSIGNALED(status))
		err = err ?: add_signal_name(obj, "signal", WTERMSIG(status));
	err = err ?: report_add(obj, "core_dumped", json_object_new_boolean(WIFSIGNALED(status) &&
								     WCOREDUMP(status)));
	return err;
}

static int add_oom(struct json_object *obj, const struct event *ev)
{
	int err = 0;

	err = err ?: report_add(obj, "total_vm_kb", json_object_new_uint64(ev->oom.total_vm_kb));
	err = err ?: report_add(obj, "anon_rss_kb", json_object_new_uint64(ev->oom.anon_rss_kb));
	err = err ?: report_add(obj, "file_rss_kb", json_object_new_uint64(ev->oom.file_rss_kb));
	err = err ?: report_add(obj, "shmem_rss_kb", json_object_new_uint64(ev->oom.shmem_rss_kb));
	err = err ?: report_add(obj, "pgtables_kb", json_object_new_uint64(ev->oom.pgtables_kb));
	err = err ?: report_add(obj, "uid", json_object_new_int64(ev->oom.uid));
	err = err ?: report_add(obj, "oom_score_adj", json_object_new_int(ev->oom.oom_score_adj));
	return err;
}

/* "file" and "line" of a frame or an inlined function, when DWARF gave them. */
static int add_source(struct json_object *obj, const char *file, uint32_t line)
{
	if (!file || !*file || !line)
		return 0;
	return report_add(obj, "file", report_string(file)) ?:
	       report_add(obj, "line", json_object_new_uint64(line));
}

static int add_inlined(struct json_object *obj, const struct report_inlined *in, size_t n)
{
	struct json_object *arr = json_object_new_array_ext((int)n);
	int err = report_add(obj, "inlined", arr);

	for (size_t i = 0; !err && i < n; i++) {
		struct json_object *io = json_object_new_object();

		if (!io || json_object_array_add(arr, io) < 0) {
			json_object_put(io);
			return -ENOMEM;
		}
		err = report_add(io, "symbol", report_string(in[i].symbol)) ?:
		      add_source(io, in[i].file, in[i].line);
	}
	return err;
}

static int add_stack(struct json_object *obj, const struct report_frame *frames, size_t n)
{
	struct json_object *arr = json_object_new_array_ext((int)n);
	int err;

	err = report_add(obj, "stack", arr);
	for (size_t i = 0; !err && i < n; i++) {
		const struct report_frame *f = &frames[i];
		struct json_object *fo = json_object_new_object();

		if (!fo)
			return -ENOMEM;
		if (json_object_array_add(arr, fo) < 0) {
			json_object_put(fo);
			return -ENOMEM;
		}
		err = err ?: add_hex(fo, "ip", f->ip);
		if (f->module)
			err = err ?: report_add(fo, "module", report_string(f->module));
		if (f->build_id)
			err = err ?: report_add(fo, "build_id", report_string(f->build_id));
		if (f->symbol)
			err = err ?: report_add(fo, "symbol", report_string(f->symbol));
		/* An offset means nothing without the module or symbol it counts from. */
		if (f->module || f->symbol)
			err = err ?: report_add(fo, "offset", json_object_new_uint64(f->offset));
		err = err ?: add_source(fo, f->file, f->line);
		if (f->n_inlined)
			err = err ?: add_inlined(fo, f->inlined, f->n_inlined);
		if (f->how)
			err = err ?: report_add(fo, "how", report_string(f->how));
	}
	return err;
}

/* A name from a table, or the number when the table has none. */
static int add_name(struct json_object *obj, const char *key, const char *name, int64_t n)
{
	char num[24];

	if (!name) {
		snprintf(num, sizeof(num), "%lld", (long long)n);
		name = num;
	}
	return report_add(obj, key, json_object_new_string(name));
}

int report_add_cause(struct json_object *obj, int signo, int code, const uint64_t *addr,
		     uint64_t realtime_ns)
{
	struct json_object *c = json_object_new_object();
	const char *name = report_code_name(signo, code);
	char when[64];
	int err;

	if (report_time(realtime_ns, when, sizeof(when)) < 0)
		when[0] = '\0';
	err = report_add(obj, "cause", c);
	err = err ?: report_add(c, "time", json_object_new_string(when));
	err = err ?: add_name(c, "code", name, code);
	if (addr)
		err = err ?: add_hex(c, "addr", *addr);
	return err;
}

struct json_object *report_event(const struct event *ev, const char *probe, uint64_t realtime_ns,
				 const struct report_frame *frames, size_t n_frames)
{
	struct json_object *obj = json_object_new_object();
	char when[64];
	int err = 0;

	if (!obj)
		return NULL;
	if (report_time(realtime_ns, when, sizeof(when)) < 0)
		when[0] = '\0';
	err = err ?: report_add(obj, "time", json_object_new_string(when));
	err = err ?: report_add(obj, "kind", json_object_new_string(events_kind_name(ev->kind)));
	if (probe)
		err = err ?: report_add(obj, "probe", report_string(probe));
	err = err ?: report_add(obj, "pid", json_object_new_int64(ev->pid));
	err = err ?: report_add(obj, "tid", json_object_new_int64(ev->tid));
	err = err ?: report_add(obj, "comm", report_string(ev->comm));
	if (ev->exe.path[0])
		err = err ?: report_add(obj, "exe", report_string(ev->exe.path));
	err = err ?: report_add(obj, "cgroup_id", json_object_new_uint64(ev->cgroup_id));
	if (ev->suppressed)
		err = err ?: report_add(obj, "suppressed", json_object_new_int64(ev->suppressed));
	if (err)
		goto err;

	switch (ev->kind) {
	case SALVE_EV_SIGNAL:
		err = add_signal(obj, ev);
		break;
	case SALVE_EV_EXIT:
		err = add_exit(obj, ev);
		break;
	case SALVE_EV_OOM:
		err = add_oom(obj, ev);
		break;
	case SALVE_EV_EXEC:
		if (ev->exec.old_tid && ev->exec.old_tid != ev->pid)
			err = report_add(obj, "old_tid", json_object_new_int64(ev->exec.old_tid));
		break;
	case SALVE_EV_RETURN:
		err = report_add(obj, "ret", json_object_new_int64(ev->call.ret));
		break;
	case SALVE_EV_LATENCY:
	case SALVE_EV_STALL:
		err = report_add(obj, "duration_ns", json_object_new_uint64(ev->call.duration_ns));
		break;
	case SALVE_EV_ABORT:
		if (!ev->text.text[0])
			break; /* abort() itself: no assertion */
		err = report_add(obj, "assertion", report_string(ev->text.text));
		err = err ?: report_add(obj, "file", report_string(ev->text.file));
		err = err ?: report_add(obj, "line", json_object_new_int64(ev->text.line));
		err = err ?: report_add(obj, "function", report_string(ev->text.func));
		break;
	case SALVE_EV_EXCEPTION:
		err = report_add(obj, "type", report_string(ev->text.text));
		break;
	case SALVE_EV_SYSCALL:
		err = add_name(obj, "syscall", policy_syscall_name(ev->call.syscall), ev->call.syscall);
		err = err ?: add_name(obj, "errno", policy_errno_name(-ev->call.ret), -ev->call.ret);
		break;
	case SALVE_EV_KIND_MAX:
		break;
	}
	if (!err && frames && n_frames)
		err = add_stack(obj, frames, n_frames);
	if (err)
		goto err;
	return obj;
err:
	json_object_put(obj);
	return NULL;
}

const char *report_text(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

int report_write_text(FILE *out, const char *text, size_t len)
{
	errno = 0;
	if (fwrite(text, 1, len, out) != len || putc('\n', out) == EOF || fflush(out) == EOF)
		return errno ? -errno : -EIO;
	return 0;
}

int report_write(FILE *out, struct json_object *obj)
{
	const char *line;
	size_t len;

	if (!out || !obj)
		return -EINVAL;
	if (!(line = report_text(obj, &len)))
		return -ENOMEM;
	return report_write_text(out, line, len);
}
