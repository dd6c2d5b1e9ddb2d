/* code: the x86-64 instructions a repair writes. */
#include "actions/code.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
