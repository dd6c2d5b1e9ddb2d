#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sys.h"

static int effective_caps(__u64 *caps)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*caps = data[0].effective | ((__u64)data[1].effective << 32);
	return 0;
}

int sys_check(char *why, size_t len)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_PERFMON, "CAP_PERFMON" },
		{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	};
	size_t used = 0;
	__u64 caps = 0;
	int err;

	why[0] = 0;
	if ((err = effective_caps(&caps)))
		return snprintf(why, len, "cannot read capabilities: %s", strerror(-err)), err;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (caps & (1ull << need[i].cap))
			continue;
		used += snprintf(why + used, used < len ? len - used : 0, "%s%s",
				 used ? ", " : "missing capabilities (run as root): ", need[i].name);
	}
	if (used)
		return -EPERM;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return snprintf(why, len, "the kernel has no BTF (/sys/kernel/btf/vmlinux): "
					  "salve needs CONFIG_DEBUG_INFO_BTF=y"), -ENOTSUP;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1)
		return snprintf(why, len, "the kernel has no BPF ring buffer (needs Linux 5.8+)"),
		       -ENOTSUP;
	return 0;
}

static int mount_if_missing(const char *dir, const char *type, long magic, char *why, size_t len)
{
	struct statfs fs;

	if (!statfs(dir, &fs) && fs.f_type == magic)
		return 0;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return snprintf(why, len, "cannot create %s: %s", dir, strerror(errno)), -errno;
	if (mount(type, dir, type, 0, NULL))
		return snprintf(why, len, "cannot mount %s on %s: %s", type, dir, strerror(errno)),
		       -errno;
	salve_log(LOG_INFO, "mounted %s on %s", type, dir);
	return 0;
}

int sys_mount_fs(char *why, size_t len)
{
	int err = mount_if_missing("/sys/fs/bpf", "bpf", BPF_FS_MAGIC, why, len);

	return err ? err : mount_if_missing("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC, why, len);
}

const char *sys_cgroup2_root(void)
{
	struct statfs fs;

	if (!statfs("/sys/fs/cgroup", &fs) && fs.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup";
	return "/sys/fs/cgroup/unified";
}
