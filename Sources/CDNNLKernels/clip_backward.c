#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>

/* [begin, end) one element at a time. */
static void range(const cdnnl_clip_backward_problem *p, long begin, long end) {
    for (long i = begin; i < end; i++) p->dx[i] = p->dy[i] * ((p->low < p->y[i] && p->y[i] < p->high) ? 1.0f : 0.0f);
}

/* [begin, end) in AVX2 registers: the same products, the factor 1 where both ordered
   comparisons hold and 0 otherwise (a NaN fails both); the last few as `range`. */
static void range_avx(const cdnnl_clip_backward_problem *p, long begin, long end) __attribute__((target("avx2")));
static void range_avx(const cdnnl_clip_backward_problem *p, long begin, long end) {
    const __m256 low = _mm256_set1_ps(p->low), high = _mm256_set1_ps(p->high), one = _mm256_set1_ps(1.0f);
    long i = begin;
    for (; i + 8 <= end; i += 8) {
        const __m256 y = _mm256_loadu_ps(p->y + i);
        const __m256 inside = _mm256_and_ps(_mm256_cmp_ps(low, y, _CMP_LT_OQ), _mm256_cmp_ps(y, high, _CMP_LT_OQ));
        _mm256_storeu_ps(p->dx + i, _mm256_mul_ps(_mm256_loadu_ps(p->dy + i), _mm256_and_ps(inside, one)));
    }
    range(p, i, end);
}

/* One thread's contiguous part, in whole 64-byte lines. */
static void part(void *data) {
    const cdnnl_clip_backward_problem *p = data;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long lines = (p->count + 15) / 16;
    const long begin = 16 * (lines * me / threads);
    long end = 16 * (lines * (me + 1) / threads);
    if (end > p->count) end = p->count;
    if (cdnnl_has_avx2()) range_avx(p, begin, end); else range(p, begin, end);
}

void cdnnl_clip_backward(const cdnnl_clip_backward_problem *problem) {
    cdnnl_has_avx2();
    GOMP_parallel(part, (void *)problem, 0, 0);
}
