#include "cdnnl_kernels.h"
#include "channel_norm_common.h"

/* Tile [q0, q0 + n) of one image: the statistics (`channel_statistics`), then one pass writing
   (x - mean) / sqrt(var + eps) * scale[c] + bias[c]. The sums are `channel_norm_common.h`'s, so the
   result does not depend on the layout or on how tiles are shared out. */
static void tile(const void *problem, long offset, int q0, int n) {
    const cdnnl_channel_norm_problem *p = problem;
    const int b = p->block, blocks = (p->channels + b - 1) / b, hw = p->positions;
    const float *x = p->x + offset;
    float *y = p->y + offset;
    float mean[CHANNEL_TILE], rstd[CHANNEL_TILE];
    channel_statistics(x, p->weights, p->channels, b, hw, p->epsilon, q0, n, mean, rstd);
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

static void part(void *data) {
    const cdnnl_channel_norm_problem *p = data;
    channel_tiles(p, tile, p->images, p->channels, p->positions, p->block);
}

void cdnnl_channel_norm(const cdnnl_channel_norm_problem *problem) {
    GOMP_parallel(part, (void *)problem, 0, 0);
}
