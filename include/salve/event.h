/* The one record format of the salve ring buffer, shared by the BPF programs and salved.
 *
 * Includes nothing: BPF code includes vmlinux.h first, user space <linux/types.h>.
 * Fixed-width fields only, explicit padding, sizes checked at compile time on both
 * sides. Every record starts with struct salve_event_hdr; a reader checks hdr.size
 * against the size of the kind before it copies. */
#ifndef SALVE_EVENT_H
#define SALVE_EVENT_H

#define SALVE_EVENT_VERSION 2

enum salve_event_kind {
	SALVE_EV_SIGNAL = 1, /* a fatal-class signal was sent to a process */
	SALVE_EV_EXIT = 2,   /* a process (its last thread) exited */
	SALVE_EV_OOM = 3,    /* the OOM killer chose a victim */
	SALVE_EV_EXEC = 4,   /* a process executed a new binary */
	SALVE_EV_RETURN = 5, /* a probed function returned a value its predicate matches */
	SALVE_EV_LATENCY = 6, /* a call of a probed function took longer than its threshold */
	SALVE_EV_STALL = 7,   /* a function due every so often was not called (salved's own) */
	SALVE_EV_ABORT = 8,   /* abort() or a failed assert() */
	SALVE_EV_EXCEPTION = 9, /* a C++ exception was thrown */
	SALVE_EV_SYSCALL = 10,  /* a watched syscall failed with a watched errno */
	SALVE_EV_KIND_MAX,
};

#define SALVE_COMM_LEN 16
#define SALVE_STACK_MAX 32   /* user frames captured per stack */
#define SALVE_MODULES_MAX 6  /* distinct mapped files named per stack */
#define SALVE_PATH_MAX 256   /* bytes of a path kept in a record */
#define SALVE_MODULE_NONE 0xff

/* The kind's record is followed by a struct salve_snapshot, its mappings and the stack
 * bytes it copied (hdr.size counts them): its stack is unwound from that, not walked. */
#define SALVE_HDR_SNAPSHOT 0x1

/* Path components are written leaf first, each followed by '/', by the kernel walk
 * (the verifier wants forward writes); the reader reverses them. */
#define SALVE_PATH_TRUNCATED 0x1 /* the walk ran out of depth or room */

struct salve_event_hdr {
	__u16 kind;    /* enum salve_event_kind */
	__u8 version;  /* SALVE_EVENT_VERSION */
	__u8 flags;    /* SALVE_HDR_* */
	__u32 size;    /* bytes of the whole record */
	__u32 pid;     /* tgid of the subject process */
	__u32 tid;     /* thread of the subject */
	__u64 boot_ns; /* CLOCK_BOOTTIME when the kernel saw it */
	__u64 cgroup_id;
	__u64 policies;   /* bit i: the process is in the scope of policy i */
	__u32 suppressed; /* records of this kind dropped by the rate limit before this one */
	__u32 gen;        /* the generation of the configuration that decided policies */
	char comm[SALVE_COMM_LEN];
};

/* A file the stack runs through, named as the kernel saw it mapped. */
struct salve_module {
	__u64 dev;  /* kernel dev_t: major << 20 | minor */
	__u64 ino;
	__u32 path_flags; /* SALVE_PATH_* */
	__u32 pad;
	char path[SALVE_PATH_MAX]; /* components leaf first, see above */
};

/* A user stack: instruction pointers innermost first, each mapped to a file and an
 * offset in it, so the reader can symbolize after the process is gone. */
struct salve_stack {
	__u16 nr_frames;
	__u8 nr_modules;
	__u8 pad0[5];
	__u64 ip[SALVE_STACK_MAX];
	__u64 file_off[SALVE_STACK_MAX]; /* offset of ip in its file */
	__u8 module[SALVE_STACK_MAX];    /* index into modules, or SALVE_MODULE_NONE */
	struct salve_module modules[SALVE_MODULES_MAX];
};

#define SALVE_SIG_FATAL 0x1    /* the receiver's disposition is the default action */
#define SALVE_SIG_HAS_ADDR 0x2 /* addr is the fault address */
#define SALVE_SIG_HAS_IP 0x4   /* ip and stack are the receiver's (it raised it itself) */
#define SALVE_SIG_HANDLED 0x8  /* the receiver has a handler for it (known where FATAL is) */

/* Signals the kernel raises at a fault (si_code > 0): SIGILL, SIGBUS, SIGFPE, SIGSEGV. */
#define SALVE_FAULT_SIGNALS ((1u << 4) | (1u << 7) | (1u << 8) | (1u << 11))

struct salve_signal_event {
	struct salve_event_hdr hdr;
	__s32 signo;
	__s32 code;       /* si_code */
	__u32 sender_pid; /* tgid of the sender; the receiver itself for faults */
	__u32 flags;      /* SALVE_SIG_* */
	__u64 addr;
	__u64 ip;
	struct salve_module exe;
	struct salve_stack stack;
};

/* What a debugger needs to unwind a stack without frame pointers, taken at a fault (and
 * for a probe whose stack is "cfi"): the user registers CFI needs, a copy of the top of
 * the user stack, and the executable file mappings the unwinder reads CFI from (and the
 * load bias it applies), after the process is gone. x86-64 registers; elsewhere the
 * snapshot is left empty. The struct is followed by nr_maps struct salve_map, then by
 * the stack bytes: a record holds only the mappings the process has and the stack that
 * was copied, up to what the probe asked for. */
#define SALVE_USTACK_MAX 49152 /* bytes of user stack a snapshot may copy from sp */
#define SALVE_MAPS_MAX 128     /* executable file mappings kept */

enum salve_reg {
	SALVE_REG_IP,
	SALVE_REG_SP,
	SALVE_REG_BP,
	SALVE_REG_BX,
	SALVE_REG_R12,
	SALVE_REG_R13,
	SALVE_REG_R14,
	SALVE_REG_R15,
	SALVE_REGS_NR,
};

/* One executable mapping of a file: [start, end) maps the file from pgoff pages on. */
struct salve_map {
	__u64 start;
	__u64 end;
	__u64 pgoff; /* in pages of the running kernel */
	struct salve_module file;
};

#define SALVE_SNAP_MAPS_TRUNCATED 0x1 /* the process had more than SALVE_MAPS_MAX */

struct salve_snapshot {
	__u64 regs[SALVE_REGS_NR]; /* enum salve_reg */
	__u32 size;                /* bytes of stack copied from regs[SALVE_REG_SP] */
	__u16 nr_maps;             /* struct salve_map that follow, in address order */
	__u16 flags;               /* SALVE_SNAP_* */
};

struct salve_exit_event {
	struct salve_event_hdr hdr;
	__u32 status;      /* wait(2) status: exit code << 8, or signal | 0x80 if core */
	__u32 pad;
	struct salve_module exe;
};

struct salve_oom_event {
	struct salve_event_hdr hdr;
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 pgtables_kb;
	__u32 uid;
	__s32 oom_score_adj;
};

struct salve_exec_event {
	struct salve_event_hdr hdr;
	__u32 old_tid; /* the thread that called exec, when not the leader */
	__u32 pad;
	struct salve_module exe;
};

/* A call of a probed function (kinds SALVE_EV_RETURN and later function kinds). The
 * stack follows only when the site asks for it: hdr.size says which. */
struct salve_call_event {
	struct salve_event_hdr hdr;
	__u32 site;     /* the site id, from the attachment's cookie */
	__u32 syscall;  /* syscall: its number */
	__s64 ret;      /* the return value, sign-extended from the site's type */
	__u64 duration_ns;
	__u64 exe_dev;  /* the process's executable, as the kernel knows it (rules group */
	__u64 exe_ino;  /*   by binary on it); 0 for a process without one */
};

struct salve_call_stack_event {
	struct salve_call_event call;
	struct salve_stack stack;
};

/* A call that carries text read from its arguments (abort and assert, exceptions). */
#define SALVE_TEXT_MAX 256
#define SALVE_NAME_MAX 128

struct salve_text_event {
	struct salve_call_event call;
	__u32 line;  /* assert: the line */
	__u32 pad;
	char text[SALVE_TEXT_MAX]; /* assert: the expression; exception: the type's name */
	char file[SALVE_NAME_MAX]; /* assert: the source file */
	char func[SALVE_NAME_MAX]; /* assert: the function */
};

struct salve_text_stack_event {
	struct salve_text_event text;
	struct salve_stack stack;
};

/* Kernel-side filter, in two slots of the salve_config array map: the kernel reads the
 * slot salve_active names, salved writes the other and then switches (on reload, and
 * when a scoped binary or cgroup appears or changes).
 * Scope sets map an exe, cgroup, comm or uid to the policies that name it, to include
 * or to exclude. A process is in a policy's scope when it matches an entry of every
 * kind of set the policy lists (its binaries, its cgroups and units, ...) and no entry
 * of its exclusions; a record carries the policies it is in, so salved never re-checks
 * scope. */
#define SALVE_POLICIES_MAX 64
#define SALVE_SCOPE_CGROUP 0x1
#define SALVE_SCOPE_EXE 0x2
#define SALVE_SCOPE_COMM 0x4
#define SALVE_SCOPE_UID 0x8
#define SALVE_SCOPE_SETS 4 /* needs[] index: the bit's position */

/* What a scope-set entry means to one configuration: bit i, policy i. */
struct salve_scope_val {
	__u64 include;
	__u64 exclude;
};

/* The value of a scope-set entry: its meaning in each of the two configuration slots.
 * salved writes the slot the kernel does not read, then switches slots (salve_active),
 * so a reload changes the kernel's scope at one instant or not at all. */
struct salve_scope_slots {
	struct salve_scope_val slot[2];
};

struct salve_config {
	__u32 gen;         /* stamped on every record this configuration decides */
	__u32 slot;        /* its index in salve_config, and in salve_scope_slots */
	__u32 kinds;       /* 1 << enum salve_event_kind for each kind wanted */
	__u32 scope;       /* SALVE_SCOPE_* sets in use, so empty ones cost nothing */
	__u32 exit_nonzero; /* only exits with a non-zero status (or by a signal) */
	__u32 stack;       /* 1 << kind for the kinds that capture a user stack */
	__u32 signals;     /* 1 << signo for the signals wanted */
	__u32 signals_handled; /* also signals the receiver catches, not only fatal ones */
	__u32 rate_per_sec; /* per (tgid, kind) records per second; 0 means unlimited */
	__u32 burst;
	__u32 faults;      /* 1 << signo: kernel-raised faults wanted even when caught */
	__u32 snap_bytes;  /* stack bytes a signal's snapshot copies (the most any probe asks) */
	__u64 unscoped;    /* policies with an empty scope: every process is theirs */
	__u64 scoped;      /* the others */
	__u64 needs[SALVE_SCOPE_SETS]; /* per kind of set: the policies that list some */
};

struct salve_exe_key {
	__u64 dev;
	__u64 ino;
};

/* A process's policies mask, cached by hot probes, valid for one generation. */
struct salve_scope_cached {
	__u64 policies;
	__u32 gen;
	__u32 pad;
};

/* A token bucket (salve_rates per process and kind, salve_site_rates per site). All
 * zero is a full bucket. */
struct salve_rate {
	__u64 last_ns;
	__u64 tokens_milli; /* tokens * 1000, so slow rates refill exactly */
	__u32 held;         /* suppressed since the last record sent */
	__u32 pad;
};

/* Per-CPU counters, indexed by kind, in the salve_counters array map. */
struct salve_counters {
	__u64 seen;       /* matched the filter */
	__u64 lost;       /* the ring buffer was full */
	__u64 suppressed; /* the rate limit held it back */
};

#define SALVE_ASSERT_SIZE(type, n) _Static_assert(sizeof(type) == (n), #type " changed size")
SALVE_ASSERT_SIZE(struct salve_event_hdr, 64);
SALVE_ASSERT_SIZE(struct salve_module, 280);
SALVE_ASSERT_SIZE(struct salve_stack, 8 + 8 * SALVE_STACK_MAX * 2 + SALVE_STACK_MAX + 280 * SALVE_MODULES_MAX);
SALVE_ASSERT_SIZE(struct salve_signal_event, 64 + 32 + 280 + sizeof(struct salve_stack));
SALVE_ASSERT_SIZE(struct salve_map, 24 + 280);
SALVE_ASSERT_SIZE(struct salve_snapshot, 8 * SALVE_REGS_NR + 8);
SALVE_ASSERT_SIZE(struct salve_exit_event, 64 + 8 + 280);
SALVE_ASSERT_SIZE(struct salve_oom_event, 64 + 48);
SALVE_ASSERT_SIZE(struct salve_exec_event, 64 + 8 + 280);
SALVE_ASSERT_SIZE(struct salve_call_event, 64 + 40);
SALVE_ASSERT_SIZE(struct salve_call_stack_event, 64 + 40 + sizeof(struct salve_stack));
SALVE_ASSERT_SIZE(struct salve_text_event, 64 + 40 + 8 + 512);
SALVE_ASSERT_SIZE(struct salve_text_stack_event, 64 + 40 + 8 + 512 + sizeof(struct salve_stack));
SALVE_ASSERT_SIZE(struct salve_config, 64 + 8 * SALVE_SCOPE_SETS);
SALVE_ASSERT_SIZE(struct salve_scope_slots, 32);
SALVE_ASSERT_SIZE(struct salve_rate, 24);
SALVE_ASSERT_SIZE(struct salve_scope_val, 16);

#endif
