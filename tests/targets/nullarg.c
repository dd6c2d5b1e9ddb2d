/* nullarg: passes NULL to strlen(), so the fault is inside libc, in a function that
 * only libc's debug file names (Debian's libc exports strlen, not the CPU-specific
 * __strlen_* it runs). Prints "pid=P" first, flushed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *volatile arg; /* NULL, and the compiler cannot know it */

__attribute__((noinline)) size_t measure(const char *s)
{
	return strlen(s) + 1;
}

int main(void)
{
	printf("pid=%d\n", getpid());
	fflush(stdout);
	return (int)measure(arg);
}
