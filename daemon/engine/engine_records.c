/* engine_records: the records behind incidents, in one ring for the whole engine. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "engine/engine_state.h"

#define ARENA_LINE 64

/* Records are read again only when a rule fires: they are written around the caches,
 * so that the stream of them does not push the rules' groups out. */
static inline void copy_uncached(unsigned char *dst, const void *src, size_t size, size_t padded)
{
#ifdef __SSE2__
	/* Whole lines only: a line written in part costs a read of it from memory. */
	size_t whole = size / 16 * 16;

	for (size_t i = 0; i < whole; i += 16)
		_mm_stream_si128((__m128i *)(dst + i),
				 _mm_loadu_si128((const __m128i *)((const unsigned char *)src + i)));
	if (whole < padded) {
		unsigned char tail[64] __attribute__((aligned(16))) = { 0 };

		memcpy(tail, (const unsigned char *)src + whole, size - whole);
		for (size_t i = whole; i < padded; i += 16)
			_mm_stream_si128((__m128i *)(dst + i),
					 _mm_load_si128((const __m128i *)(tail + i - whole)));
	}
#else
	memcpy(dst, src, size);
	(void)padded;
#endif
}

/* Copy a record into the arena; its position. A record never wraps: the tail of the
 * ring too small for it is skipped. */
uint64_t arena_put(struct engine *e, const void *rec, size_t size)
{
	size_t len = (sizeof(struct arena_entry) + size + ARENA_LINE - 1) & ~(size_t)(ARENA_LINE - 1);
	struct arena_entry head = { .size = size };
	uint64_t pos = e->arena_pos;

	if (pos % ARENA_BYTES + len > ARENA_BYTES)
		pos += ARENA_BYTES - pos % ARENA_BYTES;
	copy_uncached(e->arena + pos % ARENA_BYTES, &head, sizeof(head), sizeof(head));
	copy_uncached(e->arena + pos % ARENA_BYTES + sizeof(head), rec, size, len - sizeof(head));
	e->arena_pos = pos + len;
	return pos;
}

/* The entry at pos, unless later ones have overwritten it since. */
const struct arena_entry *arena_get(const struct engine *e, uint64_t pos)
{
	return e->arena_pos <= pos + ARENA_BYTES ? (const void *)(e->arena + pos % ARENA_BYTES) : NULL;
}

void keep_record(struct group *g, uint64_t pos)
{
	uint64_t back;

	if (pos == NO_RECORD)
		return;
	if (g->rec_last) {
		back = (pos - (g->rec_last - 1)) / ARENA_LINE;
		memmove(&g->rec_back[1], &g->rec_back[0], sizeof(g->rec_back) - sizeof(g->rec_back[0]));
		/* Farther back than any arena holds: as good as overwritten. */
		g->rec_back[0] = back < UINT32_MAX ? (uint32_t)back : UINT32_MAX;
	}
	g->rec_last = pos + 1;
}

/* The positions of g's kept records, oldest first; how many. */
unsigned kept_records(const struct group *g, uint64_t pos[INCIDENT_RECORDS_MAX])
{
	uint64_t at[INCIDENT_RECORDS_MAX];
	unsigned n = 0;

	if (!g->rec_last)
		return 0;
	at[n++] = g->rec_last - 1;
	for (unsigned i = 0; i < INCIDENT_RECORDS_MAX - 1 && g->rec_back[i]; i++) {
		uint64_t back = (uint64_t)g->rec_back[i] * ARENA_LINE;

		at[n] = back <= at[n - 1] && g->rec_back[i] != UINT32_MAX ? at[n - 1] - back : NO_RECORD;
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		pos[i] = at[n - 1 - i];
	return n;
}

