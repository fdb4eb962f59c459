#ifndef CDNNL_CHANNEL_NORM_COMMON_H
#define CDNNL_CHANNEL_NORM_COMMON_H

#include "kernels_private.h"

#include <math.h>
#include <string.h>

/* What the channel norm's forward and backward kernels share: sums over the channels at one
   position, and the statistics and the threads' share of tiles built on them. Channel c is
   added into partial sum c mod 8, in channel order within each partial sum, and the eight are
   added in one fixed tree: the result is the same bits whatever the layout (plain, blocks of 8
   or 16, or channels last: one block of all channels), the tile and the thread count, and
   eight lanes whose first channel is a multiple of 8 are one vector add. Each sum takes the
   `lanes` channels c0, c0 + 1, ... of one position, consecutive at their pointers. */

/* acc[c mod 8] += x */
static inline void channel_sum(float acc[8], const float *x, int c0, int lanes) {
    int l = 0;
    if ((c0 & 7) == 0)
        for (; l + 8 <= lanes; l += 8)
            for (int k = 0; k < 8; k++) acc[k] += x[l + k];
    for (; l < lanes; l++) acc[(c0 + l) & 7] += x[l];
}

/* acc[c mod 8] += (x - mean)^2 */
static inline void channel_sum_squares(float acc[8], const float *x, float mean, int c0, int lanes) {
    int l = 0;
    if ((c0 & 7) == 0)
        for (; l + 8 <= lanes; l += 8)
            for (int k = 0; k < 8; k++) {
                const float d = x[l + k] - mean;
                acc[k] += d * d;
            }
    for (; l < lanes; l++) {
        const float d = x[l] - mean;
        acc[(c0 + l) & 7] += d * d;
    }
}

/* With g = dy * scale[c] and xhat = (x - mean) * rstd: sums[c mod 8] += g and
   products[c mod 8] += g * xhat. `scale` points at channel c0's. */
static inline void channel_sum_gradients(float sums[8], float products[8], const float *dy, const float *x, const float *scale,
                                         float mean, float rstd, int c0, int lanes) {
    int l = 0;
    if ((c0 & 7) == 0)
        for (; l + 8 <= lanes; l += 8)
            for (int k = 0; k < 8; k++) {
                const float g = dy[l + k] * scale[l + k];
                sums[k] += g;
                products[k] += g * ((x[l + k] - mean) * rstd);
            }
    for (; l < lanes; l++) {
        const float g = dy[l] * scale[l];
        sums[(c0 + l) & 7] += g;
        products[(c0 + l) & 7] += g * ((x[l] - mean) * rstd);
    }
}

/* acc[c mod 8] += w[c] * x and, with `squares`, acc[c mod 8] += w[c] * (x - mean)^2: the sums of
   `channel_sum` and `channel_sum_squares` over the channels whose weight is 1 (weights are 0 or
   1, so each product is exact). `w` points at channel c0's. */
static inline void channel_sum_weighted(float acc[8], const float *x, const float *w, float mean, int squares, int c0, int lanes) {
    for (int l = 0; l < lanes; l++) {
        const float d = squares ? x[l] - mean : x[l];
        acc[(c0 + l) & 7] += w[l] * (squares ? d * d : d);
    }
}

static inline float channel_sum_total(const float acc[8]) {
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Positions are taken in tiles of this many, so a tile's per-position sums stay in L1 while the
   channel blocks are walked. */
enum { CHANNEL_TILE = 64 };

/* The number of channels whose weight is 1 (all of them without weights). */
static inline float channel_count(const float *weights, int channels) {
    if (!weights) return (float)channels;
    float kept = 0.0f;
    for (int c = 0; c < channels; c++) kept += weights[c];
    return kept;
}

/* The mean over the channels of each position [q0, q0 + n) of one image at x, then the
   reciprocal of sqrt(mean squared deviation + epsilon), as LayerNormalization's reference
   computes them (two passes). With `weights` (one per channel, 0 or 1; NULL for all 1) both
   means are over the channels of weight 1 only: the statistics the LayerNormalization has once
   the others are removed. */
static inline void channel_statistics(const float *x, const float *weights, int channels, int block, int positions, float epsilon,
                                      int q0, int n, float mean[CHANNEL_TILE], float rstd[CHANNEL_TILE]) {
    const int blocks = (channels + block - 1) / block;
    const float count = channel_count(weights, channels);
    float acc[CHANNEL_TILE][8];
    memset(acc, 0, sizeof acc);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * block <= channels ? block : channels - cb * block;
        const float *xb = x + (long)cb * positions * block + (long)q0 * block;
        for (int q = 0; q < n; q++) {
            if (weights) channel_sum_weighted(acc[q], xb + q * block, weights + cb * block, 0.0f, 0, cb * block, lanes);
            else channel_sum(acc[q], xb + q * block, cb * block, lanes);
        }
    }
    for (int q = 0; q < n; q++) mean[q] = channel_sum_total(acc[q]) / count;
    memset(acc, 0, sizeof acc);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * block <= channels ? block : channels - cb * block;
        const float *xb = x + (long)cb * positions * block + (long)q0 * block;
        for (int q = 0; q < n; q++) {
            if (weights) channel_sum_weighted(acc[q], xb + q * block, weights + cb * block, mean[q], 1, cb * block, lanes);
            else channel_sum_squares(acc[q], xb + q * block, mean[q], cb * block, lanes);
        }
    }
    for (int q = 0; q < n; q++) rstd[q] = 1.0f / sqrtf(channel_sum_total(acc[q]) / count + epsilon);
}

/* The calling OpenMP thread's contiguous part of the (image, tile) pairs of a tensor of images x
   channels x positions in blocks of `block`: tile(problem, offset of the image's first float,
   q0, n) for each. */
static inline void channel_tiles(const void *problem, void (*tile)(const void *, long, int, int), int images, int channels, int positions,
                                 int block) {
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long tiles = (positions + CHANNEL_TILE - 1) / CHANNEL_TILE, total = (long)images * tiles;
    const long begin = total * me / threads, end = total * (me + 1) / threads;
    const long image = (long)((channels + block - 1) / block) * block * positions;
    for (long pair = begin; pair < end; pair++) {
        const int q0 = (int)(pair % tiles) * CHANNEL_TILE;
        tile(problem, pair / tiles * image, q0, positions - q0 < CHANNEL_TILE ? positions - q0 : CHANNEL_TILE);
    }
}

#endif
