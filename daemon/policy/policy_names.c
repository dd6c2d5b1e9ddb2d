/* policy_names: the names a policy may use for syscalls, errnos and signals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

static const struct named syscall_names[] = {
#define SALVE_SYSCALL(name, nr) { #name, nr },
#include "policy/syscalls.h"
#undef SALVE_SYSCALL
};

/* Every errno a Linux syscall returns, with the aliases glibc defines. */
#define ERRNO(e) { #e, e }
static const struct named errno_names[] = {
	ERRNO(EPERM), ERRNO(ENOENT), ERRNO(ESRCH), ERRNO(EINTR), ERRNO(EIO), ERRNO(ENXIO),
	ERRNO(E2BIG), ERRNO(ENOEXEC), ERRNO(EBADF), ERRNO(ECHILD), ERRNO(EAGAIN), ERRNO(ENOMEM),
	ERRNO(EACCES), ERRNO(EFAULT), ERRNO(ENOTBLK), ERRNO(EBUSY), ERRNO(EEXIST), ERRNO(EXDEV),
	ERRNO(ENODEV), ERRNO(ENOTDIR), ERRNO(EISDIR), ERRNO(EINVAL), ERRNO(ENFILE), ERRNO(EMFILE),
	ERRNO(ENOTTY), ERRNO(ETXTBSY), ERRNO(EFBIG), ERRNO(ENOSPC), ERRNO(ESPIPE), ERRNO(EROFS),
	ERRNO(EMLINK), ERRNO(EPIPE), ERRNO(EDOM), ERRNO(ERANGE), ERRNO(EDEADLK),
	ERRNO(ENAMETOOLONG), ERRNO(ENOLCK), ERRNO(ENOSYS), ERRNO(ENOTEMPTY), ERRNO(ELOOP),
	ERRNO(EWOULDBLOCK), ERRNO(ENOMSG), ERRNO(EIDRM), ERRNO(ECHRNG), ERRNO(EL2NSYNC),
	ERRNO(EL3HLT), ERRNO(EL3RST), ERRNO(ELNRNG), ERRNO(EUNATCH), ERRNO(ENOCSI), ERRNO(EL2HLT),
	ERRNO(EBADE), ERRNO(EBADR), ERRNO(EXFULL), ERRNO(ENOANO), ERRNO(EBADRQC), ERRNO(EBADSLT),
	ERRNO(EDEADLOCK), ERRNO(EBFONT), ERRNO(ENOSTR), ERRNO(ENODATA), ERRNO(ETIME), ERRNO(ENOSR),
	ERRNO(ENONET), ERRNO(ENOPKG), ERRNO(EREMOTE), ERRNO(ENOLINK), ERRNO(EADV), ERRNO(ESRMNT),
	ERRNO(ECOMM), ERRNO(EPROTO), ERRNO(EMULTIHOP), ERRNO(EDOTDOT), ERRNO(EBADMSG),
	ERRNO(EOVERFLOW), ERRNO(ENOTUNIQ), ERRNO(EBADFD), ERRNO(EREMCHG), ERRNO(ELIBACC),
	ERRNO(ELIBBAD), ERRNO(ELIBSCN), ERRNO(ELIBMAX), ERRNO(ELIBEXEC), ERRNO(EILSEQ),
	ERRNO(ERESTART), ERRNO(ESTRPIPE), ERRNO(EUSERS), ERRNO(ENOTSOCK), ERRNO(EDESTADDRREQ),
	ERRNO(EMSGSIZE), ERRNO(EPROTOTYPE), ERRNO(ENOPROTOOPT), ERRNO(EPROTONOSUPPORT),
	ERRNO(ESOCKTNOSUPPORT), ERRNO(EOPNOTSUPP), ERRNO(ENOTSUP), ERRNO(EPFNOSUPPORT),
	ERRNO(EAFNOSUPPORT), ERRNO(EADDRINUSE), ERRNO(EADDRNOTAVAIL), ERRNO(ENETDOWN),
	ERRNO(ENETUNREACH), ERRNO(ENETRESET), ERRNO(ECONNABORTED), ERRNO(ECONNRESET),
	ERRNO(ENOBUFS), ERRNO(EISCONN), ERRNO(ENOTCONN), ERRNO(ESHUTDOWN), ERRNO(ETOOMANYREFS),
	ERRNO(ETIMEDOUT), ERRNO(ECONNREFUSED), ERRNO(EHOSTDOWN), ERRNO(EHOSTUNREACH),
	ERRNO(EALREADY), ERRNO(EINPROGRESS), ERRNO(ESTALE), ERRNO(EUCLEAN), ERRNO(ENOTNAM),
	ERRNO(ENAVAIL), ERRNO(EISNAM), ERRNO(EREMOTEIO), ERRNO(EDQUOT), ERRNO(ENOMEDIUM),
	ERRNO(EMEDIUMTYPE), ERRNO(ECANCELED), ERRNO(ENOKEY), ERRNO(EKEYEXPIRED),
	ERRNO(EKEYREVOKED), ERRNO(EKEYREJECTED), ERRNO(EOWNERDEAD), ERRNO(ENOTRECOVERABLE),
	ERRNO(ERFKILL), ERRNO(EHWPOISON),
};
#undef ERRNO

const struct name_table ps_syscall_table = {
	syscall_names, sizeof(syscall_names) / sizeof(syscall_names[0]), "syscall", 0,
	"not an x86-64 syscall name; see syscalls(2)",
};

const struct name_table ps_errno_table = {
	errno_names, sizeof(errno_names) / sizeof(errno_names[0]), "errno", 0,
	"not a Linux errno name; see errno(3)",
};

/* One name of t into *value; errors name the nearest one, or where the names are. */
int ps_name_value(struct parser *ps, struct json_object *e, const struct name_table *t, int *value)
{
	const char *s = json_object_get_string(e);
	struct nearest near = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[128];

	if (!json_object_is_type(e, json_type_string))
		return ps_wrong_type(ps, json_type_string, e);
	for (size_t k = 0; k < t->n; k++) {
		if (!strcmp(s, t->names[k].name) && strlen(s) == (size_t)json_object_get_string_len(e)) {
			*value = t->names[k].value;
			return 0;
		}
		ps_nearest_try(&near, t->names[k].name, t->names[k].name);
		/* "term" and "sigterm" both mean SIGTERM */
		if (t->strip)
			ps_nearest_try(&near, t->names[k].name, t->names[k].name + t->strip);
	}
	if (near.best)
		snprintf(h, sizeof(h), " (did you mean \"%s\"?)", near.best);
	else
		snprintf(h, sizeof(h), " (%s)", t->where);
	return ps_fail(ps, "unknown %s %s%s", t->what, ps_show(e, shown, sizeof(shown)), h);
}

/* A non-empty array of names into an int * at off and its count at n_off; the count grows
 * with each value, as in ps_parse_strings. */
int ps_parse_named(struct parser *ps, struct json_object *v, void *dst, const struct field *f,
		   const struct name_table *t)
{
	size_t n = json_object_array_length(v);
	int **arr = AT(dst, f->off, int *);
	size_t *count = AT(dst, f->n_off, size_t);

	if (!n)
		return ps_fail(ps, "expected at least one %s name, got []", t->what);
	if (!(*arr = calloc(n, sizeof(**arr))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		size_t mark = ps_path_index(ps, i);
		int err = ps_name_value(ps, json_object_array_get_idx(v, i), t, &(*arr)[*count]);

		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
		if (!err)
			(*count)++;
	}
	return first;
}

int ps_parse_syscalls(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	return ps_parse_named(ps, v, dst, f, &ps_syscall_table);
}

int ps_parse_errnos(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	return ps_parse_named(ps, v, dst, f, &ps_errno_table);
}

static const char *name_of(const struct named *names, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (names[i].value == value)
			return names[i].name;
	return NULL;
}

const char *policy_syscall_name(int nr)
{
	return name_of(syscall_names, sizeof(syscall_names) / sizeof(syscall_names[0]), nr);
}

/* The first name of a value is its usual one: EAGAIN before EWOULDBLOCK. */
const char *policy_errno_name(int err)
{
	return name_of(errno_names, sizeof(errno_names) / sizeof(errno_names[0]), err);
}

/* Every standard signal, for actions that send one. */
#define SIG(s) { #s, s }
static const struct named signal_names[] = {
	SIG(SIGHUP), SIG(SIGINT), SIG(SIGQUIT), SIG(SIGILL), SIG(SIGTRAP), SIG(SIGABRT),
	SIG(SIGBUS), SIG(SIGFPE), SIG(SIGKILL), SIG(SIGUSR1), SIG(SIGSEGV), SIG(SIGUSR2),
	SIG(SIGPIPE), SIG(SIGALRM), SIG(SIGTERM), SIG(SIGSTKFLT), SIG(SIGCHLD), SIG(SIGCONT),
	SIG(SIGSTOP), SIG(SIGTSTP), SIG(SIGTTIN), SIG(SIGTTOU), SIG(SIGURG), SIG(SIGXCPU),
	SIG(SIGXFSZ), SIG(SIGVTALRM), SIG(SIGPROF), SIG(SIGWINCH), SIG(SIGIO), SIG(SIGPWR),
	SIG(SIGSYS),
};
#undef SIG

const struct name_table ps_signal_table = {
	signal_names, sizeof(signal_names) / sizeof(signal_names[0]), "signal", 3,
	"not a standard signal name; see signal(7)",
};

const char *policy_signal_name(int signo)
{
	return name_of(signal_names, sizeof(signal_names) / sizeof(signal_names[0]), signo);
}
