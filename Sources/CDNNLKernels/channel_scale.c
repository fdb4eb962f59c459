#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Pairs [begin, end) of (image, block), 16 lanes at a time in two AVX2 registers. A whole
   block reads its scales in place; the last block, when channels run out inside it, takes
   them from a copy with zeros after the channels, and its padded lanes are masked to +0. */
static void pairs16_avx(const cdnnl_channel_scale_problem *p, long begin, long end) __attribute__((target("avx2")));
static void pairs16_avx(const cdnnl_channel_scale_problem *p, long begin, long end) {
    const int count = (p->channels + 15) / 16, hw = p->positions, tail = p->channels % 16;
    float last[16] = {0}, keep[16] = {0};
    const uint32_t ones = 0xFFFFFFFFu;
    for (int l = 0; l < tail; l++) {
        last[l] = p->scale[p->channels - tail + l];
        memcpy(&keep[l], &ones, sizeof ones);
    }
    for (long pair = begin; pair < end; pair++) {
        const int cb = (int)(pair % count), whole = tail == 0 || cb < count - 1;
        const float *lanes = whole ? p->scale + 16 * cb : last;
        const __m256 s0 = _mm256_loadu_ps(lanes), s1 = _mm256_loadu_ps(lanes + 8);
        const __m256 k0 = whole ? _mm256_castsi256_ps(_mm256_set1_epi32(-1)) : _mm256_loadu_ps(keep);
        const __m256 k1 = whole ? _mm256_castsi256_ps(_mm256_set1_epi32(-1)) : _mm256_loadu_ps(keep + 8);
        const float *x = p->x + pair * hw * 16;
        float *y = p->y + pair * hw * 16;
        for (int q = 0; q < hw; q++) {
            _mm256_storeu_ps(y + 16 * q, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * q), s0), k0));
            _mm256_storeu_ps(y + 16 * q + 8, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * q + 8), s1), k1));
        }
    }
}

/* Pairs [begin, end) of (image, block), one element at a time. Padded lanes are written as
   zeros, not as products (their inputs may hold anything). */
static void pairs(const cdnnl_channel_scale_problem *p, long begin, long end) {
    const int b = p->block, count = (p->channels + b - 1) / b, hw = p->positions;
    for (long pair = begin; pair < end; pair++) {
        const int cb = (int)(pair % count);
        const float *x = p->x + pair * hw * b;
        float *y = p->y + pair * hw * b;
        if (b == 1) {
            const float scale = p->scale[cb];
            for (int q = 0; q < hw; q++) y[q] = x[q] * scale;
            continue;
        }
        for (int q = 0; q < hw; q++) {
            for (int l = 0; l < b; l++) {
                const int c = cb * b + l;
                y[q * b + l] = c < p->channels ? x[q * b + l] * p->scale[c] : 0.0f;
            }
        }
    }
}

/* One thread's contiguous part of the (image, block) pairs. */
static void part(void *data) {
    const cdnnl_channel_scale_problem *p = data;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long total = (long)p->images * ((p->channels + p->block - 1) / p->block);
    const long begin = total * me / threads, end = total * (me + 1) / threads;
    if (p->block == 16 && cdnnl_has_avx2()) pairs16_avx(p, begin, end); else pairs(p, begin, end);
}

void cdnnl_channel_scale(const cdnnl_channel_scale_problem *problem) {
    cdnnl_has_avx2();
    GOMP_parallel(part, (void *)problem, 0, 0);
}
