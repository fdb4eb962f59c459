#include "cdnnl_kernels.h"
#include "channel_sums.h"
#include "kernels_private.h"

#include <math.h>
#include <string.h>

/* Positions are taken in tiles of this many, as in the forward kernel. */
enum { TILE = 64 };

/* Tile [q0, q0 + n) of one image: the mean and the reciprocal deviation of x recomputed as the
   forward kernel computes them, then the sums of g = dy * scale and of g * xhat over the
   channels, then dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). The lanes of a last block
   past `channels` are written as zeros. */
static void tile(const cdnnl_channel_norm_backward_problem *p, long offset, int q0, int n) {
    const int b = p->block, blocks = (p->channels + b - 1) / b, hw = p->positions;
    const float count = (float)p->channels;
    const float *x = p->x + offset, *dy = p->dy + offset;
    float *dx = p->dx + offset;
    float acc[TILE][8], products[TILE][8], mean[TILE], rstd[TILE], sg[TILE], sgx[TILE];
    memset(acc, 0, sizeof acc);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const float *xb = x + (long)cb * hw * b + (long)q0 * b;
        for (int q = 0; q < n; q++) channel_sum(acc[q], xb + q * b, cb * b, lanes);
    }
    for (int q = 0; q < n; q++) mean[q] = channel_sum_total(acc[q]) / count;
    memset(acc, 0, sizeof acc);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const float *xb = x + (long)cb * hw * b + (long)q0 * b;
        for (int q = 0; q < n; q++) channel_sum_squares(acc[q], xb + q * b, mean[q], cb * b, lanes);
    }
    for (int q = 0; q < n; q++) rstd[q] = 1.0f / sqrtf(channel_sum_total(acc[q]) / count + p->epsilon);
    memset(acc, 0, sizeof acc);
    memset(products, 0, sizeof products);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const long at = (long)cb * hw * b + (long)q0 * b;
        for (int q = 0; q < n; q++)
            channel_sum_gradients(acc[q], products[q], dy + at + q * b, x + at + q * b, p->scale + cb * b, mean[q], rstd[q], cb * b, lanes);
    }
    for (int q = 0; q < n; q++) sg[q] = channel_sum_total(acc[q]) / count, sgx[q] = channel_sum_total(products[q]) / count;
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const long at = (long)cb * hw * b + (long)q0 * b;
        const float *scale = p->scale + cb * b;
        for (int q = 0; q < n; q++) {
            const float *xq = x + at + q * b, *dq = dy + at + q * b;
            float *out = dx + at + q * b;
            const float m = mean[q], r = rstd[q], s = sg[q], t = sgx[q];
            for (int l = 0; l < lanes; l++) out[l] = r * (dq[l] * scale[l] - s - (xq[l] - m) * r * t);
            for (int l = lanes; l < b; l++) out[l] = 0.0f;
        }
    }
}

/* One thread's contiguous part of the (image, tile) pairs. */
static void part(void *data) {
    const cdnnl_channel_norm_backward_problem *p = data;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long tiles = (p->positions + TILE - 1) / TILE, total = (long)p->images * tiles;
    const long begin = total * me / threads, end = total * (me + 1) / threads;
    const long image = (long)((p->channels + p->block - 1) / p->block) * p->block * p->positions;
    for (long pair = begin; pair < end; pair++) {
        const long i = pair / tiles;
        const int q0 = (int)(pair % tiles) * TILE;
        const int n = p->positions - q0 < TILE ? p->positions - q0 : TILE;
        tile(p, i * image, q0, n);
    }
}

void cdnnl_channel_norm_backward(const cdnnl_channel_norm_backward_problem *problem) {
    GOMP_parallel(part, (void *)problem, 0, 0);
}
