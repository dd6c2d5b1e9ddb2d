/* sys: what salved needs from the host before it starts: privileges, kernel features,
 * and the bpffs and tracefs mounts (made when missing). */
#ifndef SALVE_SYS_H
#define SALVE_SYS_H

#include <stddef.h>

/* 0 when salved can run; else -EPERM or -ENOTSUP and what is missing, in words. */
int sys_check(char *why, size_t len);

/* Mount bpffs on /sys/fs/bpf and tracefs on /sys/kernel/tracing when they are not. */
int sys_mount_fs(char *why, size_t len);

/* The cgroup2 mount point: /sys/fs/cgroup or /sys/fs/cgroup/unified. */
const char *sys_cgroup2_root(void);

#endif
