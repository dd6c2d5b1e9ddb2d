/* code: the x86-64 instructions a repair writes. */
#include "actions/code.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>

#include "salve/site.h"

static size_t put(uint8_t *out, size_t at, const void *bytes, size_t n)
{
	memcpy(out + at, bytes, n);
	return at + n;
}

size_t code_return(int64_t value, uint8_t out[CODE_MAX])
{
	size_t n = 0;

	if (value == 0) {
		static const uint8_t xor_eax[] = { 0x31, 0xc0 }; /* xor %eax,%eax: rax = 0 */

		n = put(out, n, xor_eax, sizeof(xor_eax));
	} else if (value >= INT32_MIN && value <= INT32_MAX) {
		static const uint8_t mov_rax[] = { 0x48, 0xc7, 0xc0 }; /* mov $imm32,%rax */
		int32_t imm = (int32_t)value;

		n = put(out, n, mov_rax, sizeof(mov_rax));
		n = put(out, n, &imm, sizeof(imm));
	} else {
		static const uint8_t movabs_rax[] = { 0x48, 0xb8 }; /* movabs $imm64,%rax */

		n = put(out, n, movabs_rax, sizeof(movabs_rax));
		n = put(out, n, &value, sizeof(value));
	}
	out[n++] = 0xc3; /* ret */
	return n;
}

size_t code_jump(uint64_t from, uint64_t to, uint8_t out[CODE_MAX])
{
	int64_t rel = (int64_t)(to - (from + 5));
	size_t n = 0;

	if (rel >= INT32_MIN && rel <= INT32_MAX) {
		int32_t rel32 = (int32_t)rel;

		out[n++] = 0xe9; /* jmp rel32 */
		return put(out, n, &rel32, sizeof(rel32));
	}
	static const uint8_t movabs_r11[] = { 0x49, 0xbb }, jmp_r11[] = { 0x41, 0xff, 0xe3 };

	n = put(out, n, movabs_r11, sizeof(movabs_r11));
	n = put(out, n, &to, sizeof(to));
	return put(out, n, jmp_r11, sizeof(jmp_r11));
}

/* The x86-64 register number (0-15) of a capstone general-purpose 64-bit register; -1. */
static int reg_number(x86_reg r)
{
	static const x86_reg regs[16] = { X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX,
					  X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI,
					  X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
					  X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15 };

	for (int i = 0; i < 16; i++)
		if (regs[i] == r)
			return i;
	return -1;
}

/* What undoes insn; 0, or -ENOTSUP. */
static int undo_of(const cs_insn *insn, uint8_t undo[CODE_MAX], size_t *n)
{
	const cs_x86 *x = &insn->detail->x86;
	int reg;

	*n = 0;
	switch (insn->id) {
	case X86_INS_ENDBR64:
	case X86_INS_NOP:
		return 0;
	case X86_INS_PUSH:
		if (x->op_count != 1 || x->operands[0].type != X86_OP_REG ||
		    (reg = reg_number(x->operands[0].reg)) < 0 || reg == 4)
			return -ENOTSUP;
		if (reg >= 8)
			undo[(*n)++] = 0x41; /* REX.B */
		undo[(*n)++] = (uint8_t)(0x58 + (reg & 7)); /* pop */
		return 0;
	case X86_INS_SUB:
		if (x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
		    x->operands[0].reg != X86_REG_RSP || x->operands[1].type != X86_OP_IMM ||
		    x->operands[1].imm < 0 || x->operands[1].imm > INT32_MAX)
			return -ENOTSUP;
		if (x->operands[1].imm <= INT8_MAX) {
			static const uint8_t add8[] = { 0x48, 0x83, 0xc4 }; /* add $imm8,%rsp */

			*n = put(undo, 0, add8, sizeof(add8));
			undo[(*n)++] = (uint8_t)x->operands[1].imm;
		} else {
			static const uint8_t add32[] = { 0x48, 0x81, 0xc4 }; /* add $imm32,%rsp */
			int32_t imm = (int32_t)x->operands[1].imm;

			*n = put(undo, 0, add32, sizeof(add32));
			*n = put(undo, *n, &imm, sizeof(imm));
		}
		return 0;
	default:
		return -ENOTSUP;
	}
}

int code_step_over(uint64_t addr, const uint8_t *bytes, size_t n, size_t *first,
		   uint8_t undo[CODE_MAX], size_t *undo_len, char *err, size_t err_len)
{
	cs_insn *insn = NULL;
	csh cs;
	int r = -ENOTSUP;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, err_len, "the disassembler (capstone) cannot start");
		return -ENOTSUP;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	if (cs_disasm(cs, bytes, n, addr, 1, &insn) != 1) {
		snprintf(err, err_len, "its first bytes are no x86-64 instruction");
	} else if ((r = undo_of(insn, undo, undo_len))) {
		snprintf(err, err_len, "its first instruction, \"%s %s\", is not one a patch can "
			 "follow (endbr64, a NOP, push or sub from %%rsp)", insn->mnemonic, insn->op_str);
	} else {
		*first = insn->size;
	}
	cs_free(insn, insn ? 1 : 0);
	cs_close(&cs);
	return r;
}

/* ---- trampolines: displaced instructions and a predicate, in a page of the process ---- */

/* The condition code of a jcc, from its opcode: 0x7N (rel8) or 0x0f 0x8N (rel32); -1. */
static int jcc_condition(const cs_x86 *x)
{
	if (x->opcode[0] >= 0x70 && x->opcode[0] <= 0x7f)
		return x->opcode[0] - 0x70;
	if (x->opcode[0] == 0x0f && x->opcode[1] >= 0x80 && x->opcode[1] <= 0x8f)
		return x->opcode[1] - 0x80;
	return -1;
}

static bool in_group(const cs_insn *insn, uint8_t group)
{
	for (uint8_t i = 0; i < insn->detail->groups_count; i++)
		if (insn->detail->groups[i] == group)
			return true;
	return false;
}

/* Whether insn is a relative jump or call, and where to. */
static bool branch_target(const cs_insn *insn, uint64_t *to)
{
	const cs_x86 *x = &insn->detail->x86;

	if (!in_group(insn, CS_GRP_JUMP) && !in_group(insn, CS_GRP_CALL))
		return false;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*to = (uint64_t)x->operands[0].imm;
	return true;
}

static size_t put_rel32(uint8_t *out, size_t at, uint64_t from_end, uint64_t to, bool *far)
{
	int64_t rel = (int64_t)(to - from_end);
	int32_t rel32 = (int32_t)rel;

	if (rel != rel32)
		*far = true;
	return put(out, at, &rel32, sizeof(rel32));
}

/* insn, at from, rewritten to run at to into out (room: CODE_TRAMPOLINE_MAX - at): the
 * new length, or 0 (err says why). */
static size_t relocate_one(const cs_insn *insn, uint64_t to, uint8_t *out, size_t room,
			   char *err, size_t err_len)
{
	const cs_x86 *x = &insn->detail->x86;
	bool far = false;
	uint64_t target;
	size_t n = 0;
	int cc;

	if (room < 16) {
		snprintf(err, err_len, "the trampoline is full");
		return 0;
	}
	if (branch_target(insn, &target)) {
		if (insn->id == X86_INS_CALL) {
			out[n++] = 0xe8;
			n = put_rel32(out, n, to + 5, target, &far);
		} else if (insn->id == X86_INS_JMP) {
			out[n++] = 0xe9;
			n = put_rel32(out, n, to + 5, target, &far);
		} else if ((cc = jcc_condition(x)) >= 0) {
			out[n++] = 0x0f;
			out[n++] = (uint8_t)(0x80 + cc);
			n = put_rel32(out, n, to + 6, target, &far);
		} else {
			snprintf(err, err_len, "\"%s %s\" cannot run elsewhere", insn->mnemonic,
				 insn->op_str);
			return 0;
		}
	} else {
		n = put(out, 0, insn->bytes, insn->size);
		for (int i = 0; i < x->op_count; i++) {
			int64_t disp;
			int32_t d32;

			if (x->operands[i].type != X86_OP_MEM || x->operands[i].mem.base != X86_REG_RIP)
				continue;
			/* The same target from the new place: rip-relative displacement moved. */
			if (x->encoding.disp_size != 4) {
				snprintf(err, err_len, "\"%s %s\" cannot run elsewhere", insn->mnemonic,
					 insn->op_str);
				return 0;
			}
			disp = x->operands[i].mem.disp + (int64_t)(insn->address - to);
			d32 = (int32_t)disp;
			far |= disp != d32;
			memcpy(out + x->encoding.disp_offset, &d32, sizeof(d32));
		}
	}
	if (far) {
		snprintf(err, err_len, "\"%s %s\" reaches too far from the trampoline", insn->mnemonic,
			 insn->op_str);
		return 0;
	}
	return n;
}

static csh open_detail(char *err, size_t err_len)
{
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, err_len, "the disassembler (capstone) cannot start");
		return 0;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	return cs;
}

/* The whole instructions of fn (fn_len bytes at fn_addr) that cover min_len bytes from
 * at, rewritten to run at to, into out; *taken: how many bytes of fn they were. */
static int displace(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at, size_t min_len,
		    uint64_t to, uint8_t *out, size_t out_max, size_t *out_len, size_t *taken,
		    char *err, size_t err_len)
{
	uint64_t lo = fn_addr + at, hi, addr;
	const uint8_t *code;
	cs_insn *insn;
	size_t size;
	csh cs = open_detail(err, err_len);
	int r = 0;

	if (!cs)
		return -ENOTSUP;
	insn = cs_malloc(cs);
	*out_len = 0;
	code = fn + at;
	size = fn_len - at;
	addr = lo;
	while (addr < lo + min_len) {
		size_t n;

		if (!cs_disasm_iter(cs, &code, &size, &addr, insn)) {
			snprintf(err, err_len, "its code ends, or is no x86-64, %zu bytes in",
				 (size_t)(addr - fn_addr));
			r = -ENOTSUP;
			goto out;
		}
		/* A thread inside the callee would return into the middle of the patch. */
		if (insn->id == X86_INS_CALL) {
			snprintf(err, err_len, "the patch would replace a call (\"%s %s\" at +%#" PRIx64
				 ")", insn->mnemonic, insn->op_str, insn->address - fn_addr);
			r = -ENOTSUP;
			goto out;
		}
		if (!(n = relocate_one(insn, to + *out_len, out + *out_len, out_max - *out_len, err,
				       err_len))) {
			r = -ENOTSUP;
			goto out;
		}
		*out_len += n;
	}
	*taken = addr - lo;
	hi = addr;
	/* No jump of the function may land between the first and last byte moved: it would
	 * land in the middle of the patch. A linear sweep, as the compiler lays code out. */
	code = fn;
	size = fn_len;
	addr = fn_addr;
	while (cs_disasm_iter(cs, &code, &size, &addr, insn)) {
		uint64_t target;

		if (branch_target(insn, &target) && target > lo && target < hi) {
			snprintf(err, err_len, "\"%s %s\" at +%#" PRIx64 " jumps into the bytes the patch "
				 "replaces", insn->mnemonic, insn->op_str, insn->address - fn_addr);
			r = -ENOTSUP;
			goto out;
		}
	}
out:
	cs_free(insn, 1);
	cs_close(&cs);
	return r;
}

/* The x86-64 register numbers of the argument registers: rdi, rsi, rdx, rcx, r8, r9. */
static const int arg_regs[6] = { 7, 6, 2, 1, 8, 9 };

/* cmp of argument register reg with v: flags as for reg - v. */
static size_t put_cmp(uint8_t *out, size_t n, int reg, int64_t v)
{
	if (v >= INT32_MIN && v <= INT32_MAX) {
		int32_t imm = (int32_t)v;

		out[n++] = (uint8_t)(0x48 | (reg >> 3)); /* REX.W, REX.B */
		out[n++] = 0x81;
		out[n++] = (uint8_t)(0xf8 | (reg & 7)); /* cmp $imm32, reg */
		return put(out, n, &imm, sizeof(imm));
	}
	out[n++] = 0x49; /* movabs $v, %r11 */
	out[n++] = 0xbb;
	n = put(out, n, &v, sizeof(v));
	out[n++] = (uint8_t)(0x4c | (reg >> 3)); /* REX.W, REX.R (r11), REX.B */
	out[n++] = 0x39;
	out[n++] = (uint8_t)(0xc0 | (3 << 3) | (reg & 7)); /* cmp %r11, reg */
	return n;
}

/* The trampoline's common part, after its test (n bytes at out, each fix[] a rel32 to
 * point at the override): the displaced instructions and the jump back, then the
 * override, whose return also sets r11 to mark (0: left alone). */
static int trampoline_tail(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at,
			   const uint8_t *undo, size_t undo_len, int64_t value, uint64_t mark,
			   uint64_t page, uint8_t out[CODE_TRAMPOLINE_MAX], size_t n,
			   const size_t *fix, size_t n_fix, size_t *out_len, size_t *taken,
			   char *err, size_t err_len)
{
	uint8_t ret[CODE_MAX];
	size_t moved, over;
	bool far = false;
	int r;

	/* Through: the instructions the patch's jump replaces, then the rest of the
	 * function. */
	if ((r = displace(fn, fn_len, fn_addr, at, 5, page + n, out + n, CODE_TRAMPOLINE_MAX - n - 48,
			  &moved, taken, err, err_len)))
		return r;
	n += moved;
	out[n++] = 0xe9;
	n = put_rel32(out, n, page + n + 4, fn_addr + at + *taken, &far);
	/* Overridden: undo the function's first instruction, return the value. */
	over = n;
	n = put(out, n, undo, undo_len);
	if (mark) {
		out[n++] = 0x49; /* movabs $mark, %r11 */
		out[n++] = 0xbb;
		n = put(out, n, &mark, sizeof(mark));
	}
	n = put(out, n, ret, code_return(value, ret));
	for (size_t i = 0; i < n_fix; i++) {
		int32_t rel = (int32_t)(over - (fix[i] + 4));

		memcpy(out + fix[i], &rel, sizeof(rel));
	}
	*out_len = n;
	if (far) {
		snprintf(err, err_len, "the trampoline is beyond a jump's reach of the function");
		return -ERANGE;
	}
	return 0;
}

int code_trampoline(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at,
		    const struct code_when *when, const uint8_t *undo, size_t undo_len,
		    int64_t value, uint64_t page, uint8_t out[CODE_TRAMPOLINE_MAX], size_t *out_len,
		    size_t *taken, char *err, size_t err_len)
{
	/* jcc (signed) per predicate: <, <=, >, >=, ==, != and, for "in", == per value */
	static const uint8_t cc[] = { [PRED_LT] = 0xc, [PRED_LE] = 0xe, [PRED_GT] = 0xf,
				      [PRED_GE] = 0xd, [PRED_EQ] = 0x4, [PRED_NE] = 0x5,
				      [PRED_IN] = 0x4 };
	const struct policy_predicate *p = &when->pred;
	size_t fix[POLICY_PRED_VALUES], n_fix = 0, n = 0;
	int reg;

	if (when->arg >= 6 || !p->n_values || p->n_values > POLICY_PRED_VALUES) {
		snprintf(err, err_len, "no such argument or predicate");
		return -EINVAL;
	}
	reg = arg_regs[when->arg];
	/* The test: to the override when it holds. */
	for (size_t i = 0; i < p->n_values; i++) {
		n = put_cmp(out, n, reg, p->values[i]);
		out[n++] = 0x0f;
		out[n++] = (uint8_t)(0x80 + cc[p->op]);
		fix[n_fix++] = n;
		n += 4;
		if (p->op != PRED_IN)
			break;
	}
	return trampoline_tail(fn, fn_len, fn_addr, at, undo, undo_len, value, 0, page, out, n,
			       fix, n_fix, out_len, taken, err, err_len);
}

int code_gate(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at, uint64_t counter,
	      const uint8_t *undo, size_t undo_len, int64_t value, uint64_t page,
	      uint8_t out[CODE_TRAMPOLINE_MAX], size_t *out_len, size_t *taken, char *err,
	      size_t err_len)
{
	static const uint8_t take[] = {
		0x49, 0xc7, 0xc3, 0xff, 0xff, 0xff, 0xff, /* mov $-1, %r11 */
		0xf0, 0x4c, 0x0f, 0xc1, 0x1d,             /* lock xadd %r11, counter(%rip) */
	};
	static const uint8_t test[] = {
		0x4d, 0x85, 0xdb, /* test %r11, %r11 */
		0x0f, 0x8e,       /* jle: no call left to let through */
	};
	size_t fix, n = put(out, 0, take, sizeof(take));
	bool far = false;

	n = put_rel32(out, n, page + n + 4, counter, &far);
	n = put(out, n, test, sizeof(test));
	fix = n;
	n += 4;
	if (far) {
		snprintf(err, err_len, "the counter is beyond reach of the trampoline");
		return -ERANGE;
	}
	return trampoline_tail(fn, fn_len, fn_addr, at, undo, undo_len, value, SALVE_TURNED_AWAY_MARK,
			       page, out, n, &fix, 1, out_len, taken, err, err_len);
}
