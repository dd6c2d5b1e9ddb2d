/* code: the x86-64 instructions a repair writes at a function's entry. Only these few
 * are ever encoded; instructions already in a process are decoded with capstone. */
#ifndef SALVE_CODE_H
#define SALVE_CODE_H

#include <stddef.h>
#include <stdint.h>

#define CODE_MAX 16

/* "Return value at once": rax = value, then ret, in the fewest bytes (3 for 0, 8 for a
 * value that fits 32 bits signed, 11 otherwise). Returns the length written to out. */
size_t code_return(int64_t value, uint8_t out[CODE_MAX]);

/* "Go on at to", written at from: a 5-byte jmp rel32 when to is within its reach, else
 * 13 bytes through r11 (a scratch register at a function's entry in the SysV ABI).
 * Returns the length written to out. */
size_t code_jump(uint64_t from, uint64_t to, uint8_t out[CODE_MAX]);

#endif
