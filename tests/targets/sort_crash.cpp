// sort_crash: C++ built -O2 without frame pointers; a method called from std::sort's
// comparator reads through a null member, so the stack runs through libstdc++-style
// template code inlined into the target. Prints "pid=N" first.
#include <algorithm>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#define KEEP __attribute__((noinline, noclone))

struct Record {
	std::string name;
	const int *score;

	KEEP int key() const { return *score; }
};

KEEP bool by_key(const Record &a, const Record &b)
{
	return a.key() < b.key();
}

KEEP void rank(std::vector<Record> &v)
{
	std::sort(v.begin(), v.end(), by_key);
	__asm__ volatile("" ::: "memory");
}

int main()
{
	static const int s[] = { 5, 3, 9, 1 };
	std::vector<Record> v;

	for (int i = 0; i < 40; i++)
		v.push_back(Record{ "r" + std::to_string(i), i == 17 ? nullptr : &s[i % 4] });
	std::printf("pid=%d\n", getpid());
	std::fflush(stdout);
	rank(v);
	std::printf("first: %s\n", v[0].name.c_str());
	return 0;
}
