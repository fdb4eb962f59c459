#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>

/* Rows [begin, end): scalar. */
static void rows_scalar(const cdnnl_gemv_problem *p, int begin, int end) {
    for (int r = begin; r < end; r++) {
        const float *w = p->weights + (long)r * p->columns;
        float sum = 0;
        for (int c = 0; c < p->columns; c++) sum += w[c] * p->x[c];
        p->y[r] = cdnnl_clamp(sum + p->bias[r], p->low, p->high);
    }
}

static float horizontal_sum(__m256 v) __attribute__((target("avx2,fma")));
static float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* Rows [begin, end): four rows at a time, eight columns per instruction. */
static void rows_avx2(const cdnnl_gemv_problem *p, int begin, int end) __attribute__((target("avx2,fma")));
static void rows_avx2(const cdnnl_gemv_problem *p, int begin, int end) {
    const int n = p->columns, whole = n - n % 8;
    int r = begin;
    for (; r + 4 <= end; r += 4) {
        const float *w0 = p->weights + (long)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < whole; c += 8) {
            __m256 x = _mm256_loadu_ps(p->x + c);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + c), x, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + c), x, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + c), x, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + c), x, a3);
        }
        float s[4] = {horizontal_sum(a0), horizontal_sum(a1), horizontal_sum(a2), horizontal_sum(a3)};
        const float *rows[4] = {w0, w1, w2, w3};
        for (int k = 0; k < 4; k++) {
            for (int c = whole; c < n; c++) s[k] += rows[k][c] * p->x[c];
            p->y[r + k] = cdnnl_clamp(s[k] + p->bias[r + k], p->low, p->high);
        }
    }
    for (; r < end; r++) {
        const float *w = p->weights + (long)r * n;
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < whole; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(p->x + c), a);
        float sum = horizontal_sum(a);
        for (int c = whole; c < n; c++) sum += w[c] * p->x[c];
        p->y[r] = cdnnl_clamp(sum + p->bias[r], p->low, p->high);
    }
}

/* One thread's share: whole groups of four rows, split as evenly as they go. */
static void part(void *data) {
    const cdnnl_gemv_problem *p = data;
    const int threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int groups = (p->rows + 3) / 4;
    int begin = 4 * (int)((long)groups * me / threads), end = 4 * (int)((long)groups * (me + 1) / threads);
    if (end > p->rows) end = p->rows;
    if (begin >= end) return;
    if (cdnnl_has_avx2()) rows_avx2(p, begin, end); else rows_scalar(p, begin, end);
}

void cdnnl_gemv(const cdnnl_gemv_problem *problem) {
    cdnnl_has_avx2();
    GOMP_parallel(part, (void *)problem, 0, 0);
}
