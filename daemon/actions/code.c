/* code: the x86-64 instructions a repair writes. */
#include "actions/code.h"

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
