// throw: throws and catches C++ exceptions of known types, for salve's exception probe.
//
//   throw N     throws std::runtime_error N times and app::detail::ParseError N times,
//               catching each; prints "pid=P thrown=2N".
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

namespace app {
namespace detail {
struct ParseError : std::runtime_error {
	ParseError() : std::runtime_error("parse") {}
};
} // namespace detail
} // namespace app

__attribute__((noinline)) static void parse(int i)
{
	if (i % 2)
		throw app::detail::ParseError();
	throw std::runtime_error("runtime");
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3, thrown = 0;

	for (int i = 0; i < 2 * n; i++) {
		try {
			parse(i);
		} catch (const std::exception &) {
			thrown++;
		}
	}
	printf("pid=%d thrown=%d\n", getpid(), thrown);
	return 0;
}
