/* policy: the policy object, JSON text, ids unique across a set, files and directories.
 * The objects inside a policy are parsed by policy_scope.c, policy_probe.c and
 * policy_rule.c, with the table machinery of policy_spec.c. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

/* ---- policy ---------------------------------------------------------------------------- */

static int parse_version(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	int64_t version = json_object_get_int64(v);

	(void)dst;
	(void)f;
	if (version != POLICY_FORMAT_VERSION)
		return ps_fail(ps, "unsupported format version %" PRId64 " (this salved reads %d)", version,
			    POLICY_FORMAT_VERSION);
	return 0;
}

static const struct field policy_fields[] = {
	{ .name = "salve", .type = json_type_int, .flags = FIELD_REQUIRED | FIELD_EARLY,
	  .parse = parse_version, .help = "the format version, 1" },
	{ .name = "name", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = ps_parse_string,
	  .off = offsetof(struct policy, name), .help = "a non-empty string naming the policy" },
	{ .name = "dry_run", .type = json_type_boolean, .parse = ps_parse_bool,
	  .off = offsetof(struct policy, dry_run) },
	{ .name = "scope", .type = json_type_object, .parse = ps_parse_scope },
	{ .name = "probes", .type = json_type_array, .flags = FIELD_REQUIRED, .parse = ps_parse_probes,
	  .help = "a non-empty array of probes" },
	{ .name = "rules", .type = json_type_array, .parse = ps_parse_rules },
};

static const struct object_spec policy_spec = {
	.fields = policy_fields,
	.n_fields = sizeof(policy_fields) / sizeof(policy_fields[0]),
};

/* ---- ids unique across a set ------------------------------------------------------------- */

struct id_ref {
	const char *id;
	size_t policy, index, order;
	bool rule;
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Probes and rules share one name space: an incident names a rule, an event a probe, and
 * neither may be taken for the other. Sorted rather than compared pairwise: sets of
 * thousands of ids stay cheap. The clash reported is the one whose second declaration
 * comes first in load order (a file's probes before its rules). */
static int check_unique(const struct policy *pols, size_t n_pols, char *err, size_t err_len)
{
	const struct id_ref *first = NULL, *second = NULL;
	struct id_ref *refs;
	size_t n = 0;

	for (size_t i = 0; i < n_pols; i++)
		n += pols[i].n_probes + pols[i].n_rules;
	if (n < 2)
		return 0;
	if (!(refs = calloc(n, sizeof(*refs)))) {
		ps_say(err, err_len, "%s: out of memory", pols[0].file);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < n_pols; i++) {
		for (size_t j = 0; j < pols[i].n_probes; j++, n++)
			refs[n] = (struct id_ref){ pols[i].probes[j].id, i, j, n, false };
		for (size_t j = 0; j < pols[i].n_rules; j++, n++)
			refs[n] = (struct id_ref){ pols[i].rules[j].id, i, j, n, true };
	}
	qsort(refs, n, sizeof(*refs), id_ref_cmp);
	for (size_t k = 1; k < n; k++) {
		if (strcmp(refs[k - 1].id, refs[k].id))
			continue;
		/* first of its run of equal ids */
		size_t f = k - 1;

		while (f && !strcmp(refs[f - 1].id, refs[k].id))
			f--;
		if (!second || refs[k].order < second->order) {
			first = &refs[f];
			second = &refs[k];
		}
	}
	if (second)
		ps_say(err, err_len, "%s: %s[%zu].id: duplicate %sid \"%s\" (first declared at %s: %s[%zu].id)",
		       pols[second->policy].file, second->rule ? "rules" : "probes", second->index,
		       first->rule != second->rule ? "" : second->rule ? "rule " : "probe ", second->id,
		       pols[first->policy].file, first->rule ? "rules" : "probes", first->index);
	free(refs);
	return second ? -EINVAL : 0;
}

/* ---- one probe per (syscall, errno) ------------------------------------------------------ */

static bool has_int(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* The kernel finds a failed syscall's probe by its (syscall, errno): two syscall probes
 * may not share a pair. Said here, so that salvectl validate says it too. */
static int check_syscall_pairs(const struct policy *pols, size_t n_pols, char *err,
			       size_t err_len)
{
	for (size_t i = 0; i < n_pols; i++)
		for (size_t j = 0; j < pols[i].n_probes; j++) {
			const struct policy_probe *b = &pols[i].probes[j];

			if (b->kind != POLICY_PROBE_SYSCALL)
				continue;
			/* Against every syscall probe declared before it. */
			for (size_t k = 0; k <= i; k++)
				for (size_t m = 0; m < (k == i ? j : pols[k].n_probes); m++) {
					const struct policy_probe *a = &pols[k].probes[m];

					if (a->kind != POLICY_PROBE_SYSCALL)
						continue;
					for (size_t x = 0; x < b->n_syscalls; x++) {
						int sys = b->syscalls[x];

						if (!has_int(a->syscalls, a->n_syscalls, sys))
							continue;
						for (size_t y = 0; y < b->n_errnos; y++) {
							if (!has_int(a->errnos, a->n_errnos, b->errnos[y]))
								continue;
							ps_say(err, err_len, "%s: probes[%zu]: probe \"%s\" watches %s failing "
							       "with %s, as probe \"%s\" does already (%s: probes[%zu]); a "
							       "syscall and errno have one probe", pols[i].file, j, b->id,
							       policy_syscall_name(sys), policy_errno_name(b->errnos[y]),
							       a->id, pols[k].file, m);
							return -EINVAL;
						}
					}
				}
		}
	return 0;
}

/* ---- JSON text ------------------------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Line and column (in characters, as editors count) of a byte offset. */
static void position(const char *buf, size_t start, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = start; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int syntax_error(struct parser *ps, const char *buf, size_t start, size_t off,
			const char *what)
{
	size_t line, col;

	position(buf, start, off, &line, &col);
	ps_say(ps->err, ps->err_len, "%s:%zu:%zu: syntax error: %s", ps->file, line, col, what);
	ps->pending = true;
	return -EINVAL;
}

static int parse_json(struct parser *ps, const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t start = 0, end;

	if (len > POLICY_FILE_MAX)
		return ps_fail(ps, "file too large (%zu bytes; policy files are at most %u bytes)", len,
			    POLICY_FILE_MAX);
	/* A byte order mark, as some editors write. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		start = 3;
	for (end = start; end < len && is_space(buf[end]); end++)
		;
	if (end == len)
		return ps_fail(ps, "empty file (expected a JSON object)");
	if (!(tok = json_tokener_new()))
		return ps_no_memory(ps);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf + start, (int)(len - start));
	jerr = json_tokener_get_error(tok);
	end = start + json_tokener_get_parse_end(tok);
	if (!root && jerr == json_tokener_continue) {
		/* The text ended inside a value: a NUL tells json-c there is no more. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (!root)
		return syntax_error(ps, buf, start, end, json_tokener_error_desc(jerr));
	while (end < len && is_space(buf[end]))
		end++;
	if (end < len) {
		json_object_put(root);
		return syntax_error(ps, buf, start, end, "unexpected text after the JSON object");
	}
	*out = root;
	return 0;
}

/* Back pointers from probes and rules to the policy, once it has its final address. */
static void adopt(struct policy *p)
{
	for (size_t i = 0; i < p->n_probes; i++)
		p->probes[i].policy = p;
	for (size_t i = 0; i < p->n_rules; i++)
		p->rules[i].policy = p;
}

/* One file's text into out, its probe references left for the set to resolve. err is a
 * scratch buffer of POLICY_ERROR_LEN; every error goes into errs. */
static int parse_one(const char *file, const char *json, size_t len, struct policy *out,
		     char *err, struct policy_errors *errs)
{
	struct parser ps = { .file = file, .err = err, .err_len = POLICY_ERROR_LEN, .errs = errs };
	struct policy p = { 0 };
	struct json_object *root = NULL;
	char shown[SHOWN_LEN];
	int rc;

	if ((rc = parse_json(&ps, json, len, &root))) {
		ps_commit(&ps);
		return rc;
	}
	if (!json_object_is_type(root, json_type_object))
		rc = ps_fail(&ps, "expected a JSON object at the top level, got %s",
			  ps_show(root, shown, sizeof(shown)));
	else if (!(p.file = strdup(file)))
		rc = ps_no_memory(&ps);
	else
		rc = ps_check_object(&ps, root, &policy_spec, &p);
	json_object_put(root);
	if (rc) {
		ps_commit(&ps); /* the error that ended the file, unless kept already */
		policy_clear(&p);
		return rc;
	}
	/* a policy in dry run keeps every rule of it in dry run, whatever the rule says */
	for (size_t i = 0; i < p.n_rules; i++)
		p.rules[i].dry_run |= p.dry_run;
	*out = p;
	adopt(out);
	return 0;
}

/* The checks across the policies of a set, each error kept in errs. */
static int check_set(struct policy *pols, size_t n_pols, struct policy_errors *errs)
{
	char msg[POLICY_ERROR_LEN];
	int first = 0, rc;

	if ((rc = check_unique(pols, n_pols, msg, sizeof(msg)))) {
		ps_errors_add(errs, msg);
		first = rc;
	}
	if ((rc = check_syscall_pairs(pols, n_pols, msg, sizeof(msg)))) {
		ps_errors_add(errs, msg);
		first = first ?: rc;
	}
	if (!errs->stopped && (rc = ps_resolve_rules(pols, n_pols, msg, sizeof(msg), errs)))
		first = first ?: rc;
	return first;
}

/* The first error for err, as a single-error API gives it. */
static void first_error(const struct policy_errors *errs, int rc, char *err, size_t err_len)
{
	if (err && err_len)
		ps_say(err, err_len, "%s", errs->n ? errs->msgs[0] : strerror(-rc));
}

int policy_parse(const char *file, const char *json, size_t len, struct policy *out,
		 char *err, size_t err_len)
{
	struct policy_errors errs = { 0 };
	char msg[POLICY_ERROR_LEN];
	struct policy p;
	int rc;

	/* Every error is collected, as policy_set_load_errors does: the fuzzer goes down
	 * the same paths. */
	if (!(rc = parse_one(file, json, len, &p, msg, &errs))) {
		if ((rc = check_set(&p, 1, &errs)))
			policy_clear(&p);
	}
	if (rc) {
		first_error(&errs, rc, err, err_len);
		policy_errors_clear(&errs);
		return rc;
	}
	*out = p;
	adopt(out);
	return 0;
}

void policy_clear(struct policy *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	ps_scope_clear(&p->scope);
	for (size_t i = 0; i < p->n_probes; i++)
		ps_probe_clear(&p->probes[i]);
	free(p->probes);
	for (size_t i = 0; i < p->n_rules; i++)
		ps_rule_clear(&p->rules[i]);
	free(p->rules);
	*p = (struct policy){ 0 };
}

/* ---- files and directories --------------------------------------------------------------- */

static int too_large(const char *path, size_t size, char *err, size_t err_len)
{
	ps_say(err, err_len, "%s: file too large (%zu bytes; policy files are at most %u bytes)", path,
	    size, POLICY_FILE_MAX);
	return -EFBIG;
}

static int sys_error(const char *path, int e, char *err, size_t err_len)
{
	ps_say(err, err_len, "%s: %s", path, strerror(e));
	return -e;
}

/* The whole file, refused past POLICY_FILE_MAX even when it grows while read. */
static int read_file(const char *path, char **out, size_t *out_len, char *err, size_t err_len)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf = NULL;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO named like a policy must not hang the daemon. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return sys_error(path, errno, err, err_len);
	if (fstat(fd, &st)) {
		rc = sys_error(path, errno, err, err_len);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ps_say(err, err_len, "%s: not a regular file or a directory", path);
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > POLICY_FILE_MAX) {
		rc = too_large(path, (size_t)st.st_size, err, err_len);
		goto out;
	}
	/* one byte more than the size, to see the end without a second buffer */
	cap = (size_t)st.st_size + 1 < 4096 ? 4096 : (size_t)st.st_size + 1;
	for (;;) {
		ssize_t n;

		if (len == cap || !buf) {
			char *nbuf;

			if (buf)
				cap = cap * 2 > POLICY_FILE_MAX + 1 ? POLICY_FILE_MAX + 1 : cap * 2;
			if (!(nbuf = realloc(buf, cap))) {
				ps_say(err, err_len, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sys_error(path, errno, err, err_len);
			goto out;
		}
		if (!n)
			break;
		len += n;
		if (len > POLICY_FILE_MAX) {
			rc = too_large(path, len, err, err_len);
			goto out;
		}
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int load_file(const char *path, struct policy *out, char *err,
		     struct policy_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = read_file(path, &buf, &len, err, POLICY_ERROR_LEN))) {
		ps_errors_add(errs, err);
		return rc;
	}
	rc = parse_one(path, buf, len, out, err, errs);
	free(buf);
	return rc;
}

static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl && dir[dl - 1] == '/';
	char *s = malloc(dl + nl + 2);

	if (s)
		snprintf(s, dl + nl + 2, "%s%s%s", dir, slash ? "" : "/", name);
	return s;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

bool policy_dir_entry(const char *name)
{
	size_t len = strlen(name);

	if (name[0] == '.' || len <= 5 || strcmp(name + len - 5, ".json"))
		return false;
	/* the JSON Schema of the format ships beside the policies it describes */
	return !(len > 12 && !strcmp(name + len - 12, ".schema.json"));
}

/* Regular *.json files of dir (symlinks followed), sorted, but for *.schema.json. Hidden
 * files are left out: editors keep their locks and backups there. */
static int list_dir(const char *dir, char ***out, size_t *out_n, char *err, size_t err_len)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	DIR *d;

	if (!(d = opendir(dir)))
		return sys_error(dir, errno, err, err_len);
	for (;;) {
		const char *name;
		struct stat st;
		char *full;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = sys_error(dir, errno, err, err_len);
			break;
		}
		name = de->d_name;
		if (!policy_dir_entry(name))
			continue;
		if (!(full = join(dir, name))) {
			rc = -ENOMEM;
			ps_say(err, err_len, "%s: out of memory", dir);
			break;
		}
		if (fstatat(dirfd(d), name, &st, 0)) {
			rc = sys_error(full, errno, err, err_len);
			free(full);
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (!nn) {
				free(full);
				rc = -ENOMEM;
				ps_say(err, err_len, "%s: out of memory", dir);
				break;
			}
			names = nn;
			cap = ncap;
		}
		names[n++] = full;
	}
	closedir(d);
	if (!rc && !n) {
		ps_say(err, err_len, "%s: no policy files (*.json) in this directory", dir);
		rc = -ENOENT;
	}
	if (rc) {
		free_names(names, n);
		return rc;
	}
	qsort(names, n, sizeof(*names), path_cmp);
	*out = names;
	*out_n = n;
	return 0;
}

int policy_set_load_errors(const char *path, struct policy_set **out, struct policy_errors *errs)
{
	struct policy_set *set = NULL;
	char **files = NULL, msg[POLICY_ERROR_LEN];
	size_t n = 0;
	struct stat st;
	int rc = 0;

	*errs = (struct policy_errors){ 0 };
	if (stat(path, &st)) {
		rc = sys_error(path, errno, msg, sizeof(msg));
		ps_errors_add(errs, msg);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((rc = list_dir(path, &files, &n, msg, sizeof(msg)))) {
			ps_errors_add(errs, msg);
			return rc;
		}
	} else {
		if (!(files = calloc(1, sizeof(*files))) || !(files[0] = strdup(path))) {
			free(files);
			files = NULL;
			rc = -ENOMEM;
		} else {
			n = 1;
		}
	}
	if (!rc && (!(set = calloc(1, sizeof(*set))) ||
		    !(set->policies = calloc(n, sizeof(*set->policies)))))
		rc = -ENOMEM;
	if (rc) {
		ps_say(msg, sizeof(msg), "%s: out of memory", path);
		ps_errors_add(errs, msg);
		goto err;
	}
	/* Parsed in place: the array never moves, so each probe's policy pointer (set by
	 * parse_one to its out) already points into the set. Every file is read, each to
	 * its own errors; the checks across files need them all. */
	for (size_t i = 0; i < n && !errs->stopped; i++) {
		int e = load_file(files[i], &set->policies[set->n_policies], msg, errs);

		if (!e)
			set->n_policies++;
		rc = rc ?: e;
		if (e == -ENOMEM)
			break;
	}
	if (!rc)
		rc = check_set(set->policies, set->n_policies, errs);
	if (rc)
		goto err;
	free_names(files, n);
	*out = set;
	return 0;
err:
	free_names(files, n);
	policy_set_free(set);
	return rc;
}

int policy_set_load(const char *path, struct policy_set **out, char *err, size_t err_len)
{
	struct policy_errors errs;
	int rc = policy_set_load_errors(path, out, &errs);

	if (rc)
		first_error(&errs, rc, err, err_len);
	policy_errors_clear(&errs);
	return rc;
}

void policy_errors_clear(struct policy_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	*errs = (struct policy_errors){ 0 };
}

void policy_errors_summary(const struct policy_errors *errs, char *buf, size_t len)
{
	if (errs->n == 1)
		snprintf(buf, len, "%s", errs->msgs[0]);
	else if (errs->n)
		snprintf(buf, len, "%zu%s errors in the policies, the first: %s", errs->n,
			 errs->stopped ? " or more" : "", errs->msgs[0]);
	else
		snprintf(buf, len, "the policies cannot be loaded");
}

bool policy_scope_binaries_only(const struct policy_scope *sc)
{
	return sc->n_binaries && !sc->n_cgroups && !sc->n_units && !sc->n_comms && !sc->n_uids &&
	       !sc->exclude;
}

void policy_set_free(struct policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_policies; i++)
		policy_clear(&set->policies[i]);
	free(set->policies);
	free(set);
}

