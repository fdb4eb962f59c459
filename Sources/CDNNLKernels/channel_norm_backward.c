#include "cdnnl_kernels.h"
#include "channel_norm_common.h"

/* Tile [q0, q0 + n) of one image: the statistics recomputed as the forward kernel computes
   them, then the sums of g = dy * scale and of g * xhat over the channels, then
   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). With weights (0 or 1 per channel, the
   statistics over the channels of weight 1, k of them): dx = rstd * (g - w * (sum(g) + xhat *
   sum(g * xhat)) / k), the sums still over every channel. The lanes of a last block past `channels`
   are written as zeros. */
static void tile(const void *problem, long offset, int q0, int n) {
    const cdnnl_channel_norm_backward_problem *p = problem;
    const int b = p->block, blocks = (p->channels + b - 1) / b, hw = p->positions;
    const float count = channel_count(p->weights, p->channels);
    const float *x = p->x + offset, *dy = p->dy + offset;
    float *dx = p->dx + offset;
    float sums[CHANNEL_TILE][8], products[CHANNEL_TILE][8], mean[CHANNEL_TILE], rstd[CHANNEL_TILE], sg[CHANNEL_TILE], sgx[CHANNEL_TILE];
    channel_statistics(x, p->weights, p->channels, b, hw, p->epsilon, q0, n, mean, rstd);
    memset(sums, 0, sizeof sums);
    memset(products, 0, sizeof products);
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const long at = (long)cb * hw * b + (long)q0 * b;
        for (int q = 0; q < n; q++)
            channel_sum_gradients(sums[q], products[q], dy + at + q * b, x + at + q * b, p->scale + cb * b, mean[q], rstd[q], cb * b, lanes);
    }
    for (int q = 0; q < n; q++) sg[q] = channel_sum_total(sums[q]) / count, sgx[q] = channel_sum_total(products[q]) / count;
    for (int cb = 0; cb < blocks; cb++) {
        const int lanes = (cb + 1) * b <= p->channels ? b : p->channels - cb * b;
        const long at = (long)cb * hw * b + (long)q0 * b;
        const float *scale = p->scale + cb * b;
        for (int q = 0; q < n; q++) {
            const float *xq = x + at + q * b, *dq = dy + at + q * b;
            float *out = dx + at + q * b;
            const float m = mean[q], r = rstd[q], s = sg[q], t = sgx[q];
            if (p->weights) {
                const float *w = p->weights + cb * b;
                for (int l = 0; l < lanes; l++) out[l] = r * (dq[l] * scale[l] - w[l] * (s + (xq[l] - m) * r * t));
            } else {
                for (int l = 0; l < lanes; l++) out[l] = r * (dq[l] * scale[l] - s - (xq[l] - m) * r * t);
            }
            for (int l = lanes; l < b; l++) out[l] = 0.0f;
        }
    }
}

static void part(void *data) {
    const cdnnl_channel_norm_backward_problem *p = data;
    channel_tiles(p, tile, p->images, p->channels, p->positions, p->block);
}

void cdnnl_channel_norm_backward(const cdnnl_channel_norm_backward_problem *problem) {
    GOMP_parallel(part, (void *)problem, 0, 0);
}
