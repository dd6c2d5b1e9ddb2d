/* regwrite: can a uprobe program write the user registers here? */
#include "kernel/regwrite.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <asm/ptrace.h>
#define REGWRITE_AX offsetof(struct pt_regs, rax)
#endif

bool regwrite_probe(char *why, size_t len)
{
#if defined(__x86_64__)
	/* *(u64 *)(r1 + ax) = 0; r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_1, .off = REGWRITE_AX, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "salve_regwrite", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &opts);

	why[0] = 0;
	if (fd >= 0) {
		close(fd);
		return true;
	}
	/* The verifier's last words name the refusal ("invalid bpf_context access …"). */
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "invalid") || strstr(line, "denied") || strstr(line, "not allowed"))
			snprintf(why, len, "%s", line);
	if (!why[0] || !log[0])
		snprintf(why, len, "%s", strerror(errno));
	return false;
#else
	snprintf(why, len, "salve writes registers only on x86-64");
	return false;
#endif
}
