/* code: the x86-64 instructions a repair writes at a function's entry. Only these few
 * are ever encoded; instructions already in a process are decoded with capstone. */
#ifndef SALVE_CODE_H
#define SALVE_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define CODE_MAX 32            /* bytes a patch writes over a function */
#define CODE_TRAMPOLINE_MAX 512 /* bytes of a trampoline */

/* A patch goes after a function's first instruction, never over it: that one is where a
 * uprobe puts its breakpoint (and single-steps a copy of from the file), so salve's own
 * probes and any added later keep working on a patched function, in either order. The
 * patch then starts by undoing what that instruction did. bytes (n of them, at addr) are
 * the function's first bytes; *first is the length of its first instruction, undo (its
 * length *undo_len) what puts its effect back: nothing after endbr64 or a NOP, "pop REG"
 * after "push REG", "add $N, %rsp" after "sub $N, %rsp". Any other first instruction:
 * -ENOTSUP, err naming it. Decoded with capstone. */
int code_step_over(uint64_t addr, const uint8_t *bytes, size_t n, size_t *first,
		   uint8_t undo[CODE_MAX], size_t *undo_len, char *err, size_t err_len);

/* "Return value at once": rax = value, then ret, in the fewest bytes (3 for 0, 8 for a
 * value that fits 32 bits signed, 11 otherwise). Returns the length written to out. */
size_t code_return(int64_t value, uint8_t out[CODE_MAX]);

/* "Go on at to", written at from: a 5-byte jmp rel32 when to is within its reach, else
 * 13 bytes through r11 (a scratch register at a function's entry in the SysV ABI).
 * Returns the length written to out. */
size_t code_jump(uint64_t from, uint64_t to, uint8_t out[CODE_MAX]);

/* "Override only when argument arg passes pred", the register read as a long. */
struct code_when {
	unsigned arg; /* 0 to 5: rdi, rsi, rdx, rcx, r8, r9 */
	struct policy_predicate pred;
};

/* A conditional override's trampoline, to run at page: test the argument; if it passes,
 * undo the function's first instruction and return value; if not, run the instructions
 * the patch's jump replaced (rewritten for their new place: capstone decodes them) and
 * jump back to the function after them. fn is the function's code (fn_len bytes at
 * fn_addr in the process), at where the patch goes (after its first instruction). Into
 * out, *out_len bytes; *taken: how many bytes of the function the jump there replaces.
 * -ENOTSUP (err says why): an instruction cannot run elsewhere (a call, loop, jrcxz), or
 * a jump of the function lands inside those bytes; -ERANGE: page is beyond a jump's
 * reach. */
int code_trampoline(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at,
		    const struct code_when *when, const uint8_t *undo, size_t undo_len,
		    int64_t value, uint64_t page, uint8_t out[CODE_TRAMPOLINE_MAX], size_t *out_len,
		    size_t *taken, char *err, size_t err_len);

/* A circuit breaker's trampoline, the same but for its test: an atomic decrement of the
 * 64-bit counter at address counter (in a writable page of the process); a call that
 * found it above 0 goes through, any other is overridden, returning with r11 set to
 * SALVE_TURNED_AWAY_MARK (salve/site.h) so salve's return probes do not count it as
 * the function failing. -ERANGE also when counter is beyond a rip-relative reach. */
int code_gate(const uint8_t *fn, size_t fn_len, uint64_t fn_addr, size_t at, uint64_t counter,
	      const uint8_t *undo, size_t undo_len, int64_t value, uint64_t page,
	      uint8_t out[CODE_TRAMPOLINE_MAX], size_t *out_len, size_t *taken, char *err,
	      size_t err_len);

#endif
