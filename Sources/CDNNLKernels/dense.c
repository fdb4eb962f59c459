#include "cdnnl_kernels.h"
#include "kernels_private.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

enum { PANEL = 16, MR = 6, KC = 256 };

long cdnnl_dense_packed_count(int outputs, int columns) {
    return (long)((outputs + PANEL - 1) / PANEL) * PANEL * columns;
}

void cdnnl_dense_pack(const float *w, long output_stride, long column_stride, int outputs, int columns, float *packed) {
    const int panels = (outputs + PANEL - 1) / PANEL;
    for (int p = 0; p < panels; p++) {
        for (int k = 0; k < columns; k++) {
            float *to = packed + ((long)p * columns + k) * PANEL;
            for (int j = 0; j < PANEL; j++) {
                const int o = p * PANEL + j;
                to[j] = o < outputs ? w[o * output_stride + k * column_stride] : 0;
            }
        }
    }
}

/* The sums of an mr x 16 tile so far: 0 before the first block of columns, else what the block
   before left in y. */
static void load(const cdnnl_dense_problem *p, int row, int mr, int panel, int first, float sums[MR][PANEL]) {
    const int start = panel * PANEL, count = p->outputs - start < PANEL ? p->outputs - start : PANEL;
    for (int i = 0; i < mr; i++) {
        const float *y = p->y + (row + i) * p->y_stride + start;
        for (int j = 0; j < PANEL; j++) sums[i][j] = first || j >= count ? 0 : y[j];
    }
}

/* Stores an mr x 16 tile: the running sums, or after the last block of columns the sums plus
   the bias, clamped. */
static void store(const cdnnl_dense_problem *p, int row, int mr, int panel, int last, float sums[MR][PANEL]) {
    const int start = panel * PANEL, count = p->outputs - start < PANEL ? p->outputs - start : PANEL;
    for (int i = 0; i < mr; i++) {
        float *y = p->y + (row + i) * p->y_stride + start;
        for (int j = 0; j < count; j++) {
            y[j] = last ? cdnnl_clamp(sums[i][j] + (p->bias ? p->bias[start + j] : 0), p->low, p->high) : sums[i][j];
        }
    }
}

/* Rows row..row+mr-1 against one panel, columns k0..k1-1: each sum goes on over the columns in
   order, so how the columns are blocked does not change it. */
static void tile_scalar(const cdnnl_dense_problem *p, int row, int mr, int panel, int k0, int k1) {
    float sums[MR][PANEL];
    load(p, row, mr, panel, k0 == 0, sums);
    const float *w = p->packed + (long)panel * p->columns * PANEL;
    for (int k = k0; k < k1; k++) {
        for (int i = 0; i < mr; i++) {
            const float x = p->x[(row + i) * p->x_stride + k];
            for (int j = 0; j < PANEL; j++) sums[i][j] = fmaf(x, w[k * PANEL + j], sums[i][j]);
        }
    }
    store(p, row, mr, panel, k1 == p->columns, sums);
}

/* The same in AVX2 registers: 6 rows x 16 outputs in 12 accumulators, the same fused
   multiply-adds in the same order as tile_scalar. */
static inline __attribute__((always_inline, target("avx2,fma")))
void tile_avx2_rows(const cdnnl_dense_problem *p, int row, const int mr, int panel, int k0, int k1) {
    const int start = panel * PANEL, whole = start + PANEL <= p->outputs, last = k1 == p->columns;
    float sums[MR][PANEL];
    __m256 c[MR][2];
    if (k0 == 0) {
        for (int i = 0; i < mr; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    } else if (whole) {
        for (int i = 0; i < mr; i++) {
            const float *y = p->y + (row + i) * p->y_stride + start;
            c[i][0] = _mm256_loadu_ps(y);
            c[i][1] = _mm256_loadu_ps(y + 8);
        }
    } else {
        load(p, row, mr, panel, 0, sums);
        for (int i = 0; i < mr; i++) {
            c[i][0] = _mm256_loadu_ps(sums[i]);
            c[i][1] = _mm256_loadu_ps(sums[i] + 8);
        }
    }
    const float *w = p->packed + (long)panel * p->columns * PANEL;
    const float *x = p->x + row * p->x_stride;
    const long s = p->x_stride;
    for (int k = k0; k < k1; k++) {
        const __m256 w0 = _mm256_loadu_ps(w + k * PANEL), w1 = _mm256_loadu_ps(w + k * PANEL + 8);
        for (int i = 0; i < mr; i++) {
            const __m256 xi = _mm256_broadcast_ss(x + i * s + k);
            c[i][0] = _mm256_fmadd_ps(xi, w0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(xi, w1, c[i][1]);
        }
    }
    if (!whole) {
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(sums[i], c[i][0]);
            _mm256_storeu_ps(sums[i] + 8, c[i][1]);
        }
        store(p, row, mr, panel, last, sums);
        return;
    }
    if (last) {
        const __m256 b0 = p->bias ? _mm256_loadu_ps(p->bias + start) : _mm256_setzero_ps();
        const __m256 b1 = p->bias ? _mm256_loadu_ps(p->bias + start + 8) : _mm256_setzero_ps();
        const __m256 low = _mm256_set1_ps(p->low), high = _mm256_set1_ps(p->high);
        for (int i = 0; i < mr; i++) {
            c[i][0] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(c[i][0], b0), low), high);
            c[i][1] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(c[i][1], b1), low), high);
        }
    }
    for (int i = 0; i < mr; i++) {
        float *y = p->y + (row + i) * p->y_stride + start;
        _mm256_storeu_ps(y, c[i][0]);
        _mm256_storeu_ps(y + 8, c[i][1]);
    }
}

static __attribute__((target("avx2,fma"))) void tile_avx2(const cdnnl_dense_problem *p, int row, int mr, int panel, int k0, int k1) {
    switch (mr) {
    case 6: tile_avx2_rows(p, row, 6, panel, k0, k1); break;
    case 5: tile_avx2_rows(p, row, 5, panel, k0, k1); break;
    case 4: tile_avx2_rows(p, row, 4, panel, k0, k1); break;
    case 3: tile_avx2_rows(p, row, 3, panel, k0, k1); break;
    case 2: tile_avx2_rows(p, row, 2, panel, k0, k1); break;
    default: tile_avx2_rows(p, row, 1, panel, k0, k1); break;
    }
}

/* Rows [r0, r1) of part q of `parts` of the rows, in whole tiles. */
static void rows_of(const cdnnl_dense_problem *p, int q, int parts, int *r0, int *r1) {
    const int groups = (p->rows + MR - 1) / MR;
    *r0 = MR * (int)((long)groups * q / parts);
    *r1 = MR * (int)((long)groups * (q + 1) / parts);
    if (*r1 > p->rows) *r1 = p->rows;
}

/* One thread's share of the units (a panel, or a panel's part of the rows when the panels do
   not divide evenly among the threads), an equal count each. */
static void part(void *data) {
    const cdnnl_dense_problem *p = data;
    const int threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int panels = (p->outputs + PANEL - 1) / PANEL, parts = panels % threads == 0 ? 1 : threads;
    const int units = panels * parts, u0 = (int)((long)units * me / threads), u1 = (int)((long)units * (me + 1) / threads);
    const int avx2 = cdnnl_has_avx2();
    /* Blocks of columns whose part of a panel (16 KB) stays in L1 while the unit's rows pass. */
    for (int k0 = 0; k0 < p->columns; k0 += KC) {
        const int k1 = k0 + KC < p->columns ? k0 + KC : p->columns;
        for (int u = u0; u < u1; u++) {
            int r0, r1;
            rows_of(p, u % parts, parts, &r0, &r1);
            for (int r = r0; r < r1; r += MR) {
                const int mr = r1 - r < MR ? r1 - r : MR;
                if (avx2) tile_avx2(p, r, mr, u / parts, k0, k1); else tile_scalar(p, r, mr, u / parts, k0, k1);
            }
        }
    }
    /* A blocked layout's padding after the last output. */
    for (int u = u0; u < u1 && p->y_stride > p->outputs; u++) {
        if (u / parts != panels - 1) continue;
        int r0, r1;
        rows_of(p, u % parts, parts, &r0, &r1);
        for (int r = r0; r < r1; r++) memset(p->y + r * p->y_stride + p->outputs, 0, (p->y_stride - p->outputs) * sizeof(float));
    }
}

void cdnnl_dense(const cdnnl_dense_problem *problem) {
    cdnnl_has_avx2();
    GOMP_parallel(part, (void *)problem, 0, 0);
}
