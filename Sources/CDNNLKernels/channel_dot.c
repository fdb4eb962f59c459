#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>

/* Products are rounded before they are added (no fused multiply-add), as the loop this
   replaces did, so a block's sums are the same bits. */
#pragma clang fp contract(off)

/* Blocks of 8 [begin, end): the eight lanes in one register, the same sums as `blocks`. */
static void blocks8_avx(const cdnnl_channel_dot_problem *p, int begin, int end) __attribute__((target("avx2")));
static void blocks8_avx(const cdnnl_channel_dot_problem *p, int begin, int end) {
    const int hw = p->positions, count = (p->channels + 7) / 8;
    for (int cb = begin; cb < end; cb++) {
        __m256 lane = _mm256_setzero_ps();
        for (int image = 0; image < p->images; image++) {
            const float *dy = p->dy + ((long)image * count + cb) * hw * 8, *x = p->x + ((long)image * count + cb) * hw * 8;
            for (int q = 0; q < hw; q++) lane = _mm256_add_ps(lane, _mm256_mul_ps(_mm256_loadu_ps(dy + 8 * q), _mm256_loadu_ps(x + 8 * q)));
        }
        float acc[8];
        _mm256_storeu_ps(acc, lane);
        for (int l = 0; l < 8 && cb * 8 + l < p->channels; l++) p->result[cb * 8 + l] = acc[l];
    }
}

/* Blocks of 16 [begin, end): the sixteen lanes in two registers, the same sums as `blocks`. */
static void blocks16_avx(const cdnnl_channel_dot_problem *p, int begin, int end) __attribute__((target("avx2")));
static void blocks16_avx(const cdnnl_channel_dot_problem *p, int begin, int end) {
    const int hw = p->positions, count = (p->channels + 15) / 16;
    for (int cb = begin; cb < end; cb++) {
        __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
        for (int image = 0; image < p->images; image++) {
            const float *dy = p->dy + ((long)image * count + cb) * hw * 16, *x = p->x + ((long)image * count + cb) * hw * 16;
            for (int q = 0; q < hw; q++) {
                low = _mm256_add_ps(low, _mm256_mul_ps(_mm256_loadu_ps(dy + 16 * q), _mm256_loadu_ps(x + 16 * q)));
                high = _mm256_add_ps(high, _mm256_mul_ps(_mm256_loadu_ps(dy + 16 * q + 8), _mm256_loadu_ps(x + 16 * q + 8)));
            }
        }
        float acc[16];
        _mm256_storeu_ps(acc, low);
        _mm256_storeu_ps(acc + 8, high);
        for (int l = 0; l < 16 && cb * 16 + l < p->channels; l++) p->result[cb * 16 + l] = acc[l];
    }
}

/* Blocks [begin, end): each block's lanes summed over images, then positions, in order. */
static void blocks(const cdnnl_channel_dot_problem *p, int begin, int end) {
    const int b = p->block, hw = p->positions, count = (p->channels + b - 1) / b;
    for (int cb = begin; cb < end; cb++) {
        float acc[16] = {0};
        for (int image = 0; image < p->images; image++) {
            const long base = ((long)image * count + cb) * hw * b;
            if (b == 1) {
                float sum = 0;
                for (int q = 0; q < hw; q++) sum += p->dy[base + q] * p->x[base + q];
                acc[0] += sum;
            } else {
                for (int q = 0; q < hw; q++) {
                    const long o = base + (long)q * b;
                    for (int l = 0; l < b; l++) acc[l] += p->dy[o + l] * p->x[o + l];
                }
            }
        }
        for (int l = 0; l < b && cb * b + l < p->channels; l++) p->result[cb * b + l] = acc[l];
    }
}

/* One thread's share of the blocks: a contiguous run, split as evenly as they go. */
static void part(void *data) {
    const cdnnl_channel_dot_problem *p = data;
    const int threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int count = (p->channels + p->block - 1) / p->block;
    const int begin = (int)((long)count * me / threads), end = (int)((long)count * (me + 1) / threads);
    if (begin >= end) return;
    if (p->block == 8 && cdnnl_has_avx2()) blocks8_avx(p, begin, end);
    else if (p->block == 16 && cdnnl_has_avx2()) blocks16_avx(p, begin, end);
    else blocks(p, begin, end);
}

void cdnnl_channel_dot(const cdnnl_channel_dot_problem *problem) {
    cdnnl_has_avx2();
    GOMP_parallel(part, (void *)problem, 0, 0);
}
