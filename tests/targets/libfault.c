#include <stdio.h>

#include "libfault.h"

void fault_lib_write(volatile int *where)
{
	printf("addr=%p\n", (void *)where);
	fflush(stdout);
	*where = 42;
}

int fault_lib_compute(int x)
{
	return x * 3 + 1;
}
