#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Pairs [begin, end) of (image, block), 16 lanes at a time in two AVX2 registers; `keep` is
   all ones on a channel's lane and zero on a padded one, so those are written as +0. */
static void pairs16_avx(const cdnnl_channel_scale_problem *p, long begin, long end, const float *lanes, const float *keep)
    __attribute__((target("avx2")));
static void pairs16_avx(const cdnnl_channel_scale_problem *p, long begin, long end, const float *lanes, const float *keep) {
    const int count = (p->channels + 15) / 16, hw = p->positions;
    for (long pair = begin; pair < end; pair++) {
        const int cb = (int)(pair % count);
        const __m256 s0 = _mm256_loadu_ps(lanes + 16 * cb), s1 = _mm256_loadu_ps(lanes + 16 * cb + 8);
        const __m256 k0 = _mm256_loadu_ps(keep + 16 * cb), k1 = _mm256_loadu_ps(keep + 16 * cb + 8);
        const float *x = p->x + pair * hw * 16;
        float *y = p->y + pair * hw * 16;
        for (int q = 0; q < hw; q++) {
            _mm256_storeu_ps(y + 16 * q, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * q), s0), k0));
            _mm256_storeu_ps(y + 16 * q + 8, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * q + 8), s1), k1));
        }
    }
}

/* Pairs [begin, end) of (image, block), one element at a time; `lanes` holds the scale of
   every lane, 0 past the channels. Padded lanes are written as zeros, not as products (their
   inputs may hold anything). */
static void pairs(const cdnnl_channel_scale_problem *p, long begin, long end, const float *lanes) {
    const int b = p->block, count = (p->channels + b - 1) / b, hw = p->positions;
    for (long pair = begin; pair < end; pair++) {
        const int cb = (int)(pair % count);
        const float *x = p->x + pair * hw * b;
        float *y = p->y + pair * hw * b;
        if (b == 1) {
            const float scale = lanes[cb];
            for (int q = 0; q < hw; q++) y[q] = x[q] * scale;
            continue;
        }
        for (int q = 0; q < hw; q++) {
            for (int l = 0; l < b; l++) y[q * b + l] = cb * b + l < p->channels ? x[q * b + l] * lanes[cb * b + l] : 0.0f;
        }
    }
}

typedef struct {
    const cdnnl_channel_scale_problem *problem;
    const float *lanes;
    const float *keep;
} shared_t;

static void part(void *data) {
    const shared_t *shared = data;
    const cdnnl_channel_scale_problem *p = shared->problem;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long total = (long)p->images * ((p->channels + p->block - 1) / p->block);
    const long begin = total * me / threads, end = total * (me + 1) / threads;
    if (p->block == 16 && cdnnl_has_avx2()) pairs16_avx(p, begin, end, shared->lanes, shared->keep);
    else pairs(p, begin, end, shared->lanes);
}

int cdnnl_channel_scale(const cdnnl_channel_scale_problem *problem) {
    const int b = problem->block, padded = (problem->channels + b - 1) / b * b;
    float lanes[CDNNL_CHANNEL_SCALE_MAX], keep[CDNNL_CHANNEL_SCALE_MAX];
    if (padded > CDNNL_CHANNEL_SCALE_MAX) return 0;
    const uint32_t ones = 0xFFFFFFFFu;
    for (int c = 0; c < padded; c++) {
        lanes[c] = c < problem->channels ? problem->scale[c] : 0.0f;
        if (c < problem->channels) memcpy(&keep[c], &ones, sizeof ones); else keep[c] = 0.0f;
    }
    shared_t shared = {problem, lanes, keep};
    cdnnl_has_avx2();
    GOMP_parallel(part, &shared, 0, 0);
    return 1;
}
