#include "cdnnl_kernels.h"
#include "channel_sums.h"
#include "kernels_private.h"

#include <math.h>
#include <string.h>

/* Positions are taken in tiles of this many, so a tile's per-position sums stay in L1 while the
   channel blocks are walked. */
enum { TILE = 64 };

/* Tile [q0, q0 + n) of one image (its first float at x, as y): two passes over the channels for
   the mean and then the variance of the deviations (as LayerNormalization's reference computes
   them), then one writing (x - mean) / sqrt(var + eps) * scale[c] + bias[c]. The sums are
   `channel_sums.h`'s, so the result does not depend on the layout or on how tiles are shared
   out. */
static void tile(const cdnnl_channel_norm_problem *p, const float *x, float *y, int q0, int n) {
    const int b = p->block, blocks = (p->channels + b - 1) / b, hw = p->positions;
    const float count = (float)p->channels;
    float acc[TILE][8], mean[TILE], rstd[TILE];
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
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const float *xb = x + (long)cb * hw * b + (long)q0 * b, *scale = p->scale + cb * b, *bias = p->bias ? p->bias + cb * b : NULL;
        float *yb = y + (long)cb * hw * b + (long)q0 * b;
        for (int q = 0; q < n; q++) {
            const float m = mean[q], r = rstd[q];
            float *out = yb + q * b;
            const float *in = xb + q * b;
            if (bias)
                for (int l = 0; l < lanes; l++) out[l] = (in[l] - m) * r * scale[l] + bias[l];
            else
                for (int l = 0; l < lanes; l++) out[l] = (in[l] - m) * r * scale[l];
            for (int l = lanes; l < b; l++) out[l] = 0.0f;
        }
    }
}

/* One thread's contiguous part of the (image, tile) pairs. */
static void part(void *data) {
    const cdnnl_channel_norm_problem *p = data;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long tiles = (p->positions + TILE - 1) / TILE, total = (long)p->images * tiles;
    const long begin = total * me / threads, end = total * (me + 1) / threads;
    const long image = (long)((p->channels + p->block - 1) / p->block) * p->block * p->positions;
    for (long pair = begin; pair < end; pair++) {
        const long i = pair / tiles;
        const int q0 = (int)(pair % tiles) * TILE;
        const int n = p->positions - q0 < TILE ? p->positions - q0 : TILE;
        tile(p, p->x + i * image, p->y + i * image, q0, n);
    }
}

void cdnnl_channel_norm(const cdnnl_channel_norm_problem *problem) {
    GOMP_parallel(part, (void *)problem, 0, 0);
}
