/* libFuzzer harness for the policy parser: any bytes as a policy file. The parser must
 * accept or refuse them with a message, never crash, read out of bounds or leak (ASan
 * and LeakSanitizer run with it). `make fuzz` runs it for a bounded time, seeded from
 * policies/. */
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[512];

	if (!policy_parse("fuzz.json", (const char *)data, size, &p, err, sizeof(err)))
		policy_clear(&p);
	return 0;
}
