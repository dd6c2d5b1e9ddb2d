/* checkpoints: salve's own checkpoints of live processes, kept under the state directory.
 *
 * Each is a directory checkpoints/<id>/ holding meta.json (when, why, which process:
 * binary and build id, command line, open files, sizes, how long it stayed stopped, the
 * repairs in effect) and core.gz, the process as an ELF core (corefile.h) compressed
 * with zlib's gzip format (zcat gives the plain core gdb opens). A checkpoint is written
 * under a temporary name and renamed whole: one interrupted leaves nothing behind (the
 * temporary is removed then, and at the next start).
 *
 * Retention: the last `keep` per rule (or of salvectl's), and a quota on all of them;
 * the oldest go first. The file system keeps CHECKPOINT_RESERVE_PCT of its space free:
 * a checkpoint that would eat into it is refused, never half written. */
#ifndef SALVE_CHECKPOINTS_H
#define SALVE_CHECKPOINTS_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

#define CHECKPOINT_ID_MAX 64
#define CHECKPOINT_RESERVE_PCT 5		/* of the file system, left free */
#define CHECKPOINT_QUOTA_DEFAULT (4ull << 30) /* bytes, all checkpoints together */
#define CHECKPOINT_KEEP_ASKED 10		/* salvectl's checkpoints: the last this many */

struct checkpoints;

/* Lines say what was taken ({"kind":"checkpoint",…}). */
typedef void checkpoints_line_fn(void *ctx, struct json_object *line);

/* Keep checkpoints under state_dir/checkpoints, within quota bytes; leftovers of one
 * interrupted are removed. */
int checkpoints_new(const char *state_dir, uint64_t quota, checkpoints_line_fn *line, void *ctx,
		    struct checkpoints **out, char *err, size_t err_len);
void checkpoints_free(struct checkpoints *c);

/* The criu binary that passed its check (criu.h), for the "criu" and "auto" backends;
 * NULL: none. */
int checkpoints_set_criu(struct checkpoints *c, const char *criu);

struct checkpoint_request {
	pid_t pid;
	const char *rule;	     /* NULL when asked by salvectl */
	const char *policy;
	uint64_t incident_id;
	const char *incident_json;   /* the incident line, for meta.json; may be NULL */
	struct json_object *repairs; /* the repairs in effect (borrowed); may be NULL */
	unsigned keep;		     /* of the rule's (or salvectl's) checkpoints, kept */
	enum policy_backend backend; /* auto: criu where there is one, else core */
};

/* Take a checkpoint of rq->pid: 0 with id its name (CHECKPOINT_ID_MAX), or -errno with
 * err naming the process, file or limit that stopped it (-ENOTSUP: the criu backend
 * without a working criu). */
int checkpoints_take(struct checkpoints *c, const struct checkpoint_request *rq, char *id,
		     char *err, size_t err_len);

/* Every checkpoint (or the one named id), oldest first: id, time, backend, trigger,
 * rule, pid, comm, binary, pause_ns, memory_bytes, bytes (on disk) and path (its
 * directory). */
struct json_object *checkpoints_list(struct checkpoints *c, const char *id);

/* The meta.json of checkpoint id ("last": the newest; "last:PID": the newest of PID), and
 * its directory's path; -ENOENT when there is none. */
int checkpoints_find(struct checkpoints *c, const char *id, struct json_object **meta,
		     char *dir, size_t dir_len, char *err, size_t err_len);

/* checkpoints_take in three steps, so the writing needs not hold the caller's loop:
 * begin (in the loop: salve's own copy is made, the threads held only for it; for criu,
 * what the process is), then checkpoint_job_run in any thread (the core compressed and
 * written, or criu's dump), then end (in the loop again: retention, the line; the job
 * freed). The request's strings and repairs must live until end. */
struct checkpoint_job;
int checkpoints_begin(struct checkpoints *c, const struct checkpoint_request *rq,
		      struct checkpoint_job **job, char *err, size_t err_len);
void checkpoint_job_run(struct checkpoint_job *job);
int checkpoints_end(struct checkpoint_job *job, char *id, char *err, size_t err_len);

/* Bring checkpoint id back ("last", "last:PID" as checkpoints_find): salve's core is
 * rolled back into its process, which must still run (snapshot_rollback: -ESTALE when
 * its layout changed); criu's images are restored, the process killed first when it
 * still runs, under the same pid. 0 with *pid the process, and a {"kind":"restore"} line;
 * -errno with err. Files, sockets and other kernel state are not rolled back by a core. */
int checkpoints_restore(struct checkpoints *c, const char *id, pid_t *pid, char *err,
			size_t err_len);

#endif
