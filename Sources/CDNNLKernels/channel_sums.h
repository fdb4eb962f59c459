#ifndef CDNNL_CHANNEL_SUMS_H
#define CDNNL_CHANNEL_SUMS_H

/* Sums over the channels at one position, shared by the channel norm's forward and backward
   kernels. Channel c is added into partial sum c mod 8, in channel order within each partial
   sum, and the eight are added in one fixed tree: the result is the same bits whatever the
   layout (plain, blocks of 8 or 16, or channels last: one block of all channels), the tile and
   the thread count, and eight lanes whose first channel is a multiple of 8 are one vector add.
   Each function takes the `lanes` channels c0, c0 + 1, ... of one position, consecutive at
   their pointers. */

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

static inline float channel_sum_total(const float acc[8]) {
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

#endif
